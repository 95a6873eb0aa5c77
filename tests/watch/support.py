"""An integration watched in-process: the simulator served over ASGI, a runner, and a
``Watcher`` stepped by the test (no timers: each step polls, submits or settles)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from services.integrations.models import Integration
from services.store import Store
from services.sync.models import SnapshotAccount, SyncRun, SyncRunKind, SyncRunStatus
from services.sync.runner import SyncRunner
from services.watch.watcher import (
    NullWatchMetrics,
    WatchDeps,
    Watcher,
    WatchMetrics,
    WatchOptions,
)
from simulator import Simulator
from testkit.sync import connected_integration, make_runner, sync_now
from tests.sync.inprocess import BASE, in_process


class Snapshots:
    """Manifests and accounts, as the container hands them to the watch."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def manifest(self, snapshot_id: str):  # type: ignore[no-untyped-def]
        return await self.store.snapshot_layers.manifest(snapshot_id)

    def iter_accounts(self, *, snapshot_id: str):  # type: ignore[no-untyped-def]
        return self.store.snapshot_queries.iter_accounts(snapshot_id=snapshot_id)


@dataclass
class Watched:
    """A synced integration of ``sim`` and its watcher."""

    sim: Simulator
    store: Store
    integration: Integration
    runner: SyncRunner
    watcher: Watcher

    async def current(self) -> str:
        integration = await self.store.integrations.get_by_id(integration_id=self.integration.id)
        assert integration is not None and integration.current_snapshot_id
        return integration.current_snapshot_id

    async def accounts(self, snapshot_id: str | None = None) -> dict[str, SnapshotAccount]:
        snapshot_id = snapshot_id or await self.current()
        queries = self.store.snapshot_queries
        return {a.account_id: a async for a in queries.iter_accounts(snapshot_id=snapshot_id)}

    async def refresh(self) -> SyncRun | None:
        """Poll; run the refresh the events asked for (if any) here; let the watcher see it
        end. The run, or None when nothing was asked for."""
        self.watcher._next_poll = None  # poll now
        await self.watcher.step()
        inflight = self.watcher._inflight
        if inflight is None:
            return None
        run = await self.runner.execute(self.integration.id)
        assert run is not None, "the run was not executed here"
        await self.watcher.step()
        return run

    async def full_sync(self) -> SyncRun:
        integration = await self.store.integrations.get_by_id(integration_id=self.integration.id)
        assert integration is not None
        run = await sync_now(self.runner, integration)
        assert run is not None and run.status is SyncRunStatus.SUCCEEDED, run
        assert run.kind is SyncRunKind.FULL
        return run


async def watched(
    store: Store,
    sim: Simulator,
    *,
    role_reads: int = 200,
    max_layer: int = 2000,
    settle_seconds: float = 0.0,
    metrics: WatchMetrics | None = None,
) -> Watched:
    """A new organization's integration of ``sim`` (with its Admin API key), synced once,
    and a watcher holding its lease."""
    org = await store.organizations.create(name="Acme")
    integration = await connected_integration(
        store,
        org.id,
        site_url=f"{BASE}/site/{sim.site.name}",
        has_admin_key=True,
        admin_org_id=sim.credentials.org_id,
    )
    connectors = in_process(sim)
    runner = make_runner(store, connectors, role_reads=role_reads, max_layer=max_layer)
    run = await sync_now(runner, integration)
    assert run is not None and run.status is SyncRunStatus.SUCCEEDED, run
    options = WatchOptions(
        owner="test-watcher",
        poll_seconds=0.01,
        coalesce_seconds=0.0,
        lease_ttl=timedelta(seconds=60),
        settle_seconds=settle_seconds,
    )
    token = await store.watch.acquire(
        integration_id=integration.id,
        organization_id=org.id,
        owner=options.owner,
        ttl=options.lease_ttl,
        now=options.clock(),
    )
    assert token is not None
    deps = WatchDeps(
        integrations=store.integrations,
        watch=store.watch,
        runs=store.sync_runs,
        queue=runner.queue,
        connectors=connectors,
        snapshots=Snapshots(store),
        metrics=metrics or NullWatchMetrics(),
    )
    fresh = await store.integrations.get_by_id(integration_id=integration.id)
    assert fresh is not None
    return Watched(sim, store, fresh, runner, Watcher(fresh, token, deps, options))
