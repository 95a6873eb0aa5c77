"""Follow-up runs (defect 5): a change to what a sync collects while a run is running queues
exactly one run after it. End to end over GraphQL, with the in-process worker and the
simulator as a real server, on both stores."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from services.clock import utcnow_ms
from services.confluence.retry import RetryObserver
from services.integrations.changes import IntegrationChanges
from services.integrations.models import Integration, IntegrationStatus
from services.integrations.vault import CredentialVault
from services.scheduler import Scheduler
from services.sync.connector import Connector, ConnectorFactory
from testkit.connect import Env
from testkit.refresh_race import connect_oauth
from tests.conftest import STORE_KINDS, served_site
from tests.e2e.access_support import connect_api_token, set_admin_key
from tests.e2e.connect_support import worker_env_fixture

TRIGGER = """mutation($id: ID!) { triggerSync(integrationId: $id) {
  syncRun { id status trigger } userErrors { code } } }"""
RUNS = """query($id: ID!) { syncRuns(integrationId: $id, first: 10) {
  edges { node { id status trigger error } } } }"""
ACCOUNTS = """query($after: String) { accounts(first: 100, after: $after) {
  pageInfo { hasNextPage endCursor } edges { node { accountId mfaEnabled lastActiveAt } } } }"""


follow_sim = served_site(users=60, groups=6, pages=4, seed=13)
env = worker_env_fixture("follow_sim", params=STORE_KINDS)


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


class TickingVault:
    """The credential vault, with a scheduler tick (and the runs it starts, to their end) just
    before the connect flow stores the credential: the integration is CONNECTED already and
    its first sync not yet queued, the widest window the flow leaves a worker."""

    def __init__(self, real: CredentialVault, scheduler: Scheduler) -> None:
        self.real, self.scheduler = real, scheduler
        self.ticks = 0

    async def store(self, *args: Any, **kwargs: Any) -> None:
        await self.scheduler.tick()
        await self.scheduler.drain()
        self.ticks += 1
        await self.real.store(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


INTEGRATION = "query($id: ID!) { integration(id: $id) { status statusMessage } }"


async def test_a_scheduler_tick_during_the_connect_starts_no_run_of_its_own(env: Env) -> None:
    """A run the scheduler started there would find no credential (and ask to reconnect a
    site just connected), or turn the connect's first sync into a follow-up: two runs."""
    integrations = env.live.container.services.integrations
    scheduler = env.live.container.sync.scheduler
    ticking = TickingVault(integrations.vault, scheduler)
    integrations.vault = ticking  # type: ignore[assignment]
    integration_id = await connect_api_token(env, "POLICY")
    await scheduler.drain()
    assert ticking.ticks == 1
    runs = [e["node"] for e in (await env.gql(RUNS, {"id": integration_id}))["syncRuns"]["edges"]]
    assert [(r["trigger"], r["status"]) for r in runs] == [("INITIAL", "SUCCEEDED")], runs
    found = (await env.gql(INTEGRATION, {"id": integration_id}))["integration"]
    assert found == {"status": "CONNECTED", "statusMessage": None}


class TickingChanges:
    """The integration service's announcements, with a scheduler tick (and the runs it starts,
    to their end) when an armed announcement says CONNECTED: inside an OAuth re-connect, after
    the integration is CONNECTED again and before its sync is queued."""

    def __init__(self, real: IntegrationChanges, scheduler: Scheduler) -> None:
        self.real, self.scheduler = real, scheduler
        self.armed = False
        self.ticks = 0

    async def publish(self, integration: Integration) -> Integration:
        if self.armed and integration.status is IntegrationStatus.CONNECTED:
            self.armed = False
            await self.scheduler.tick()
            await self.scheduler.drain()
            self.ticks += 1
        return await self.real.publish(integration)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


async def test_a_scheduler_tick_during_an_oauth_reconnect_starts_no_run_of_its_own(
    env: Env,
) -> None:
    """A site that needs re-authorising, whose last run is days old, is re-connected: a tick
    between CONNECTED and the connect's sync request would start a scheduled run as well."""
    integrations = env.live.container.services.integrations
    scheduler = env.live.container.sync.scheduler
    integration = await connect_oauth(env)
    await scheduler.drain()
    await integrations.changes.mark_needs_reauth(integration, "refused: reconnect")
    days_ago = utcnow_ms() - timedelta(days=3)
    moved = await env.live.container.store._db["sync_runs"].update_many(
        {"integration_id": integration.id},
        {"$set": {"created_at": days_ago, "finished_at": days_ago}},
    )
    assert moved.modified_count == 1
    ticking = TickingChanges(integrations.changes, scheduler)
    integrations.changes = ticking  # type: ignore[assignment]
    ticking.armed = True

    again = await connect_oauth(env)
    await scheduler.drain()
    assert again.id == integration.id and ticking.ticks == 1
    runs = [e["node"] for e in (await env.gql(RUNS, {"id": integration.id}))["syncRuns"]["edges"]]
    assert [(r["trigger"], r["status"]) for r in runs] == [
        ("INITIAL", "SUCCEEDED"),  # the re-connect's
        ("INITIAL", "SUCCEEDED"),  # the first connect's
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
