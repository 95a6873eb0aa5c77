"""Follow-up runs (defect 5): a change to what a sync collects while a run is running queues
exactly one run after it. End to end over GraphQL, with the in-process worker and the
simulator as a real server, on both stores."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from services.confluence.retry import RetryObserver
from services.integrations.models import Integration
from services.sync.connector import Connector, ConnectorFactory
from simulator import RunningSimulator, Simulator, generate_site, start_simulator
from testkit.connect import Env
from tests.conftest import STORE_KINDS
from tests.e2e.access_support import connect_api_token, set_admin_key
from tests.e2e.connect_support import worker_env

TRIGGER = """mutation($id: ID!) { triggerSync(integrationId: $id) {
  syncRun { id status trigger } userErrors { code } } }"""
RUNS = """query($id: ID!) { syncRuns(integrationId: $id, first: 10) {
  edges { node { id status trigger error } } } }"""
ACCOUNTS = """query($after: String) { accounts(first: 100, after: $after) {
  pageInfo { hasNextPage endCursor } edges { node { accountId mfaEnabled lastActiveAt } } } }"""


@pytest.fixture(scope="module")
def follow_sim() -> Iterator[RunningSimulator]:
    sim = Simulator(generate_site(users=60, groups=6, pages=4, seed=13))
    with start_simulator(sim) as running:
        yield running


@pytest.fixture(params=STORE_KINDS)
async def env(request: pytest.FixtureRequest, follow_sim: RunningSimulator) -> AsyncIterator[Env]:
    async for e in worker_env(request, follow_sim):
        yield e


class GatedConnectors:
    """Holds the first run that opens its connector until ``release`` (it is RUNNING then)."""

    def __init__(self, real: ConnectorFactory) -> None:
        self.real = real
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    @asynccontextmanager
    async def open(
        self, integration: Integration, observer: RetryObserver
    ) -> AsyncIterator[Connector]:
        if not self.entered.is_set():
            self.entered.set()
            await self.release.wait()
        async with self.real.open(integration, observer) as connector:
            yield connector


async def _accounts(env: Env) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        page = (await env.gql(ACCOUNTS, {"after": after}))["accounts"]
        nodes += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


async def test_admin_key_set_during_the_first_sync_is_collected_by_one_follow_up(env: Env) -> None:
    runner = env.live.container.sync.runner
    gated = GatedConnectors(runner.connectors)
    runner.connectors = gated
    integration_id = await connect_api_token(env, "ACCESS_REVIEW")
    await asyncio.wait_for(gated.entered.wait(), 20)  # the first sync runs, without a key
    first = (await env.gql(RUNS, {"id": integration_id}))["syncRuns"]["edges"][0]["node"]
    assert first["status"] == "RUNNING"

    await set_admin_key(env, integration_id)
    for _ in range(3):  # triggerSync during the run returns it; the requests coalesce
        payload = (await env.gql(TRIGGER, {"id": integration_id}))["triggerSync"]
        assert payload["userErrors"] == []
        assert payload["syncRun"]["id"] == first["id"]
    gated.release.set()
    await env.live.container.sync.scheduler.drain()

    runs = [e["node"] for e in (await env.gql(RUNS, {"id": integration_id}))["syncRuns"]["edges"]]
    assert [(r["trigger"], r["status"]) for r in runs] == [
        ("MANUAL", "SUCCEEDED"),  # exactly one follow-up, after the first run
        ("INITIAL", "SUCCEEDED"),
    ], runs
    accounts = await _accounts(env)
    managed = [a for a in accounts if a["mfaEnabled"] is not None]
    assert managed and any(a["mfaEnabled"] is True for a in managed)
    assert any(a["lastActiveAt"] is not None for a in accounts)
    site = env.sim.sim.site
    for account in accounts:
        sim_account = site.accounts[account["accountId"]]
        if account["mfaEnabled"] is not None:
            assert site.is_managed(sim_account)  # unmanaged accounts: MFA unknown (§5.8)


async def test_trigger_sync_with_nothing_running_starts_one_run(env: Env) -> None:
    runner = env.live.container.sync.runner
    gated = GatedConnectors(runner.connectors)
    gated.entered.set()  # no gate
    integration_id = await connect_api_token(env, "POLICY")
    await env.live.container.sync.scheduler.drain()
    payload = (await env.gql(TRIGGER, {"id": integration_id}))["triggerSync"]
    assert payload["userErrors"] == [] and payload["syncRun"]["trigger"] == "MANUAL"
    await env.live.container.sync.scheduler.drain()
    runs = [e["node"] for e in (await env.gql(RUNS, {"id": integration_id}))["syncRuns"]["edges"]]
    assert [(r["trigger"], r["status"]) for r in runs] == [
        ("MANUAL", "SUCCEEDED"),
        ("INITIAL", "SUCCEEDED"),
    ], runs


REMOVE_KEY = """mutation($id: ID!) { removeAtlassianAdminKey(integrationId: $id) {
  integration { hasAdminKey adminOrgId } userErrors { code } } }"""


async def test_removing_the_admin_key_starts_a_sync_without_it(env: Env) -> None:
    integration_id = await connect_api_token(env, "ACCESS_REVIEW")
    scheduler = env.live.container.sync.scheduler
    await scheduler.drain()
    await set_admin_key(env, integration_id)
    await scheduler.drain()
    assert any(a["mfaEnabled"] is not None for a in await _accounts(env))

    removed = (await env.gql(REMOVE_KEY, {"id": integration_id}))["removeAtlassianAdminKey"]
    assert removed == {"integration": {"hasAdminKey": False, "adminOrgId": None}, "userErrors": []}
    await scheduler.drain()
    runs = [e["node"] for e in (await env.gql(RUNS, {"id": integration_id}))["syncRuns"]["edges"]]
    assert [(r["trigger"], r["status"]) for r in runs] == [
        ("MANUAL", "SUCCEEDED"),  # after the removal
        ("MANUAL", "SUCCEEDED"),  # after the key was set
        ("INITIAL", "SUCCEEDED"),
    ], runs
    accounts = await _accounts(env)
    assert all(a["mfaEnabled"] is None and a["lastActiveAt"] is None for a in accounts)
    raw = await env.live.container.store._db["credentials"].find_one({"_id": integration_id})
    assert (
        raw is not None and "admin_api_key" not in raw["secrets"] and "api_token" in raw["secrets"]
    )
