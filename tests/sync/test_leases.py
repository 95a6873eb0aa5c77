"""Leases and fencing: one run per integration; a stale lease holder cannot write."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from services.integrations.models import Purpose
from services.store import Store
from services.sync.models import (
    RunEnd,
    RunRequest,
    SnapshotCommit,
    SyncProgress,
    SyncRunStatus,
    SyncTrigger,
)
from services.sync.queue import STALE_RUN
from simulator import RunningSimulator
from testkit.sync import connected_integration, make_runner, sync_now
from tests.sync.support import static_connectors

TTL = timedelta(seconds=30)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


async def test_lease_is_exclusive_until_it_expires(store: Store) -> None:
    leases = store.sync_leases
    first = await leases.acquire(integration_id="int_1", owner="a", ttl=TTL, now=T0)
    assert first is not None and first.token == 1 and first.owner == "a"
    assert await leases.acquire(integration_id="int_1", owner="b", ttl=TTL, now=T0) is None
    assert await leases.acquire(integration_id="int_2", owner="b", ttl=TTL, now=T0) is not None
    # Heartbeats keep it; a heartbeat with a stale token does not.
    assert await leases.renew(integration_id="int_1", token=1, ttl=TTL, now=T0 + TTL / 2)
    assert await leases.acquire(integration_id="int_1", owner="b", ttl=TTL, now=T0 + TTL) is None
    later = T0 + TTL * 2
    taken = await leases.acquire(integration_id="int_1", owner="b", ttl=TTL, now=later)
    assert taken is not None and taken.token == 2 and taken.owner == "b"
    assert not await leases.renew(integration_id="int_1", token=1, ttl=TTL, now=later)
    await leases.release(integration_id="int_1", token=1)  # the stale holder: no effect
    held = await leases.get(integration_id="int_1")
    assert held is not None and held.owner == "b"
    await leases.release(integration_id="int_1", token=2)
    assert await leases.get(integration_id="int_1") is None
    again = await leases.acquire(integration_id="int_1", owner="c", ttl=TTL, now=later)
    assert again is not None and again.token == 3


async def test_commit_is_fenced_by_the_newest_token(store: Store) -> None:
    org = await store.organizations.create(name="Acme")
    integration = await connected_integration(store, org.id)
    leases = store.sync_leases
    await leases.announce_fence(integration_id=integration.id, token=1)
    await leases.announce_fence(integration_id=integration.id, token=2)  # a newer holder
    await leases.announce_fence(integration_id=integration.id, token=1)  # never goes back
    assert not await leases.commit_snapshot(SnapshotCommit(integration.id, 1, "snap_old", T0))
    assert await leases.commit_snapshot(SnapshotCommit(integration.id, 2, "snap_new", T0))
    current = await store.integrations.get_by_id(integration_id=integration.id)
    assert current is not None and current.current_snapshot_id == "snap_new"
    assert current.last_sync_at == T0


async def test_run_updates_are_fenced(store: Store) -> None:
    runs = store.sync_runs
    run = await runs.create(RunRequest("org", "int", Purpose.POLICY, SyncTrigger.MANUAL))
    assert run is not None
    assert (
        await runs.create(RunRequest("org", "int", Purpose.POLICY, SyncTrigger.MANUAL)) is None
    )  # one active run per integration
    claimed = await runs.claim(run_id=run.id, owner="a", fence=5)
    assert claimed is not None and claimed.status is SyncRunStatus.RUNNING
    assert await runs.claim(run_id=run.id, owner="b", fence=6) is None
    assert not await runs.update_progress(run_id=run.id, fence=4, progress=SyncProgress("x"))
    assert await runs.update_progress(run_id=run.id, fence=5, progress=SyncProgress("members"))
    assert (
        await runs.finish(
            run_id=run.id, fence=4, end=RunEnd(SyncRunStatus.SUCCEEDED, SyncProgress())
        )
        is None
    )
    done = await runs.finish(
        run_id=run.id, fence=5, end=RunEnd(SyncRunStatus.FAILED, SyncProgress(), error="x")
    )
    assert done is not None and done.status is SyncRunStatus.FAILED and not done.active
    assert not await runs.update_progress(run_id=run.id, fence=5, progress=SyncProgress())


class Gate:
    """Wraps a connector factory so the first members request waits for ``release``."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.reached = asyncio.Event()
        self.release = asyncio.Event()

    def open(self, integration: Any, observer: Any) -> Any:
        gate = self
        inner_cm = self.inner.open(integration, observer)

        class Held:
            async def __aenter__(self) -> Any:
                clients = await inner_cm.__aenter__()
                real = clients.confluence.list_group_members

                async def members(group_id: str, cursor: str | None = None) -> Any:
                    gate.reached.set()
                    await gate.release.wait()
                    return await real(group_id, cursor)

                clients.confluence.list_group_members = members
                return clients

            async def __aexit__(self, *exc: Any) -> None:
                await inner_cm.__aexit__(*exc)

        return Held()


async def test_a_stalled_worker_is_taken_over_and_cannot_commit(
    store: Store, small_sim: RunningSimulator
) -> None:
    org = await store.organizations.create(name="Acme")
    integration = await connected_integration(store, org.id)
    gate = Gate(static_connectors(small_sim))
    stalled = make_runner(store, gate, owner="worker-a", lease_seconds=30)
    task = asyncio.create_task(sync_now(stalled, integration))
    await asyncio.wait_for(gate.reached.wait(), 5)
    a_run = await store.sync_runs.get_active(integration_id=integration.id)
    assert a_run is not None and a_run.owner == "worker-a"

    # Worker B does not see A's lease expire... until its clock is past the expiry.
    fresh = make_runner(store, static_connectors(small_sim), owner="worker-b")
    assert await sync_now(fresh, integration) is None
    fresh.options.clock = lambda: datetime.now(UTC) + timedelta(minutes=5)
    b_run = await sync_now(fresh, integration)
    assert b_run is not None and b_run.status is SyncRunStatus.SUCCEEDED
    assert b_run.id != a_run.id and b_run.owner == "worker-b" and b_run.fence == 2

    gate.release.set()  # A wakes up and tries to carry on
    a_result = await asyncio.wait_for(task, 10)
    assert a_result is not None and a_result.status is SyncRunStatus.FAILED
    stored_a = await store.sync_runs.get(run_id=a_run.id)
    assert stored_a is not None and stored_a.status is SyncRunStatus.FAILED
    assert stored_a.error == STALE_RUN  # written by B; A could not overwrite it
    current = await store.integrations.get_by_id(integration_id=integration.id)
    assert current is not None and current.current_snapshot_id == b_run.snapshot_id
    assert (await store.snapshot_data.counts(a_run.snapshot_id)).accounts == 0
    assert (await store.snapshot_data.counts(b_run.snapshot_id)) == b_run.counts
    assert await store.sync_runs.get_active(integration_id=integration.id) is None
