"""Disconnecting an integration while its sync runs: the run stops calling Atlassian at its
next lease heartbeat, keeps nothing, and is not reported as a failure (no alert, no
follow-up). End to end over GraphQL, with the in-process worker, the simulator as a real
server, on both stores; a one-second sync lease, so a heartbeat every third of a second."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from services.confluence.retry import RetryObserver
from services.integrations.models import Integration, IntegrationStatus
from services.sync.connector import Connector, ConnectorFactory
from services.sync.models import SnapshotCommit, SyncRun
from services.sync.progress import DISCONNECTED_DURING_RUN
from simulator import RunningSimulator
from testkit.connect import Env
from tests.conftest import STORE_KINDS
from tests.e2e.access_support import connect_api_token
from tests.e2e.connect_support import sim, worker_env  # noqa: F401

DISCONNECT = """mutation($id: ID!) { disconnectIntegration(id: $id) {
  integration { status } userErrors { code } } }"""
RUNS = """query($id: ID!) { syncRuns(integrationId: $id, first: 10) {
  edges { node { status trigger error } } } }"""


@pytest.fixture(params=STORE_KINDS)
async def env(request: pytest.FixtureRequest, sim: RunningSimulator) -> AsyncIterator[Env]:  # noqa: F811
    async for e in worker_env(request, sim, sync_lease_seconds=1):
        yield e


class HungConnectors:
    """Opens the real connector, then never gets on: the run is RUNNING, its credential
    loaded, until something stops it."""

    def __init__(self, real: ConnectorFactory) -> None:
        self.real = real
        self.entered = asyncio.Event()

    @asynccontextmanager
    async def open(
        self, integration: Integration, observer: RetryObserver
    ) -> AsyncIterator[Connector]:
        async with self.real.open(integration, observer) as connector:
            self.entered.set()
            await asyncio.Event().wait()
            yield connector


class Reported:
    """Records the runs the runner reports as failed (``on_sync_failed``: an alert)."""

    def __init__(self) -> None:
        self.runs: list[SyncRun] = []

    async def __call__(self, integration: Integration, run: SyncRun) -> None:
        self.runs.append(run)


async def _disconnect(env: Env, integration_id: str) -> None:
    payload = (await env.gql(DISCONNECT, {"id": integration_id}))["disconnectIntegration"]
    assert payload == {"integration": {"status": "DISCONNECTED"}, "userErrors": []}


async def _runs(env: Env, integration_id: str) -> list[dict[str, Any]]:
    return [e["node"] for e in (await env.gql(RUNS, {"id": integration_id}))["syncRuns"]["edges"]]


async def test_a_disconnect_stops_the_running_sync_without_an_alert(env: Env) -> None:
    runner = env.live.container.sync.runner
    hung = HungConnectors(runner.connectors)
    runner.connectors = hung
    reported = Reported()
    runner.on_sync_failed = reported
    integration_id = await connect_api_token(env, "ACCESS_REVIEW")
    await asyncio.wait_for(hung.entered.wait(), 20)
    assert [r["status"] for r in await _runs(env, integration_id)] == ["RUNNING"]

    await _disconnect(env, integration_id)
    # without the heartbeat's look at the integration, the run would never end
    await asyncio.wait_for(env.live.container.sync.scheduler.drain(), 30)
    assert await _runs(env, integration_id) == [
        {"status": "FAILED", "trigger": "INITIAL", "error": DISCONNECTED_DURING_RUN}
    ]
    assert reported.runs == []  # no alert, and no follow-up run (the list above)
    store = env.live.container.store
    integration = await store.integrations.get_by_id(integration_id=integration_id)
    assert integration is not None and integration.status is IntegrationStatus.DISCONNECTED
    assert integration.current_snapshot_id is None


async def test_a_sync_whose_commit_meets_the_disconnect_is_not_reported(env: Env) -> None:
    """The run read everything and the disconnect lands just before it commits: the commit
    is refused (not CONNECTED) and the run ends as stopped by the disconnect, not as a
    failure to alert on."""
    runner = env.live.container.sync.runner
    reported = Reported()
    runner.on_sync_failed = reported
    leases = runner.sync_leases
    commit = leases.commit_snapshot
    integration_ids: list[str] = []

    async def disconnect_then_commit(snapshot: SnapshotCommit) -> bool:
        await _disconnect(env, integration_ids[0])
        return await commit(snapshot)

    leases.commit_snapshot = disconnect_then_commit  # type: ignore[method-assign]
    gate = asyncio.Event()
    real = runner.connectors

    class Gated:
        @asynccontextmanager
        async def open(
            self, integration: Integration, observer: RetryObserver
        ) -> AsyncIterator[Connector]:
            await gate.wait()  # until the test knows the integration's id
            async with real.open(integration, observer) as connector:
                yield connector

    runner.connectors = Gated()
    integration_ids.append(await connect_api_token(env, "ACCESS_REVIEW"))
    gate.set()
    await asyncio.wait_for(env.live.container.sync.scheduler.drain(), 60)

    runs = await _runs(env, integration_ids[0])
    assert runs == [{"status": "FAILED", "trigger": "INITIAL", "error": DISCONNECTED_DURING_RUN}]
    assert reported.runs == []
    store = env.live.container.store
    run = await store.sync_runs.latest(integration_id=integration_ids[0])
    assert run is not None and run.counts is None  # it had read the site; nothing is kept
    kept = await store._db["snapshot_accounts"].count_documents({"snapshot_id": run.snapshot_id})
    assert kept == 0


async def test_the_credential_goes_once_the_integration_is_disconnected(env: Env) -> None:
    """A run that starts while the credential is being deleted finds the integration not
    connected, never a missing credential to reconnect (which would ask to re-authorise a
    site an admin just disconnected)."""
    await env.live.container.sync.scheduler.drain()
    integrations = env.live.container.services.integrations
    vault = integrations.vault
    seen: list[IntegrationStatus] = []
    delete = vault.delete

    async def delete_after_looking(integration_id: str) -> None:
        found = await env.live.container.store.integrations.get_by_id(integration_id=integration_id)
        assert found is not None
        seen.append(found.status)
        await delete(integration_id)

    vault.delete = delete_after_looking  # type: ignore[method-assign]
    integration_id = await connect_api_token(env, "POLICY")
    await env.live.container.sync.scheduler.drain()
    await _disconnect(env, integration_id)
    assert seen == [IntegrationStatus.DISCONNECTED]
    raw = await env.live.container.store._db["credentials"].find_one({"_id": integration_id})
    assert raw is None
