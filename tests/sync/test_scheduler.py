"""The scheduler: due runs with jitter, queued runs, abandoned runs (mock store, no network)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from services.integrations.models import Integration, Purpose
from services.scheduler import FIRST_RUN_GRACE, Scheduler, jitter_for
from services.store import Store
from services.sync.models import (
    RunEnd,
    RunRequest,
    SyncProgress,
    SyncRun,
    SyncRunStatus,
    SyncTrigger,
)
from testkit.conditions import until
from testkit.live import open_store
from testkit.sync import connected_integration, make_queue
from tests.sync.support import make_scheduler


class FakeRunner:
    """Records what the scheduler asks to run: the integration, and the trigger of the run
    the real runner would claim (its active run; None when there is none)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.calls: list[tuple[str, SyncTrigger | None]] = []

    async def execute(self, integration_id: str) -> SyncRun | None:
        active = await self.store.sync_runs.get_active(integration_id=integration_id)
        self.calls.append((integration_id, active.trigger if active else None))
        return None


async def _setup(now: datetime) -> tuple[Store, Scheduler, FakeRunner, list[datetime]]:
    store = open_store("mock", None)
    await store.ensure_indexes()
    runner = FakeRunner(store)
    clock = [now]
    scheduler = make_scheduler(store, runner, clock=lambda: clock[0])
    return store, scheduler, runner, clock


async def _finished_run(store: Store, integration_id: str, org: str, status: SyncRunStatus) -> Any:
    run = await store.sync_runs.create(
        RunRequest(org, integration_id, Purpose.ACCESS_REVIEW, SyncTrigger.SCHEDULED)
    )
    assert run is not None
    await store.sync_runs.claim(run_id=run.id, owner="w", fence=1)
    return await store.sync_runs.finish(run_id=run.id, fence=1, end=RunEnd(status, SyncProgress()))


def test_jitter_is_stable_and_spreads_sites() -> None:
    interval = timedelta(minutes=360)
    offsets = {jitter_for(f"int_{i}", interval, 0.1) for i in range(200)}
    assert len(offsets) == 200
    assert all(timedelta(0) <= o < interval * 0.1 for o in offsets)
    assert max(offsets) - min(offsets) > interval * 0.08  # spread over the window
    assert jitter_for("int_7", interval, 0.1) == jitter_for("int_7", interval, 0.1)


async def test_due_integrations_start_after_interval_plus_jitter() -> None:
    store, scheduler, runner, clock = await _setup(datetime.now(UTC))
    org = await store.organizations.create(name="Acme")
    never = await connected_integration(store, org.id, Purpose.ACCESS_REVIEW)
    synced = await connected_integration(store, org.id, Purpose.POLICY)
    last = await _finished_run(store, synced.id, org.id, SyncRunStatus.SUCCEEDED)

    await scheduler.tick()
    await scheduler.drain()
    assert runner.calls == [(never.id, SyncTrigger.SCHEDULED)]  # never synced: due now
    queued = await store.sync_runs.get_active(integration_id=never.id)
    assert queued is not None and queued.status is SyncRunStatus.QUEUED  # through the queue

    runner.calls.clear()  # (the fake did not run it: it is still queued)
    jitter = jitter_for(synced.id, timedelta(minutes=360), 0.1)
    clock[0] = last.finished_at + timedelta(minutes=360) + jitter - timedelta(seconds=1)
    await scheduler.tick()
    await scheduler.drain()
    assert runner.calls == [(never.id, SyncTrigger.SCHEDULED)]  # only the queued run
    _, total = await store.sync_runs.list_by_integration(integration_id=never.id, limit=5)
    assert total == 1  # started again, not queued twice
    runner.calls.clear()
    clock[0] += timedelta(seconds=2)
    await scheduler.tick()
    await scheduler.drain()
    assert (synced.id, SyncTrigger.SCHEDULED) in runner.calls


async def test_a_freshly_connected_integration_is_left_to_its_connect_flow() -> None:
    """The connect flow makes the integration CONNECTED, stores its credential and then
    queues the first sync. A tick in between must not start a run of its own: it would read
    no credential (and ask to reconnect), or make the connect's request a follow-up, a
    second run. The scheduler starts a never-run integration only once it has been
    connected for ``FIRST_RUN_GRACE`` (the connect flow stopped before queueing)."""
    now = datetime.now(UTC)
    store, scheduler, runner, clock = await _setup(now)
    org = await store.organizations.create(name="Acme")
    fresh = await connected_integration(store, org.id, connected_at=now)

    await scheduler.tick()
    await scheduler.drain()
    assert runner.calls == []
    assert await store.sync_runs.latest(integration_id=fresh.id) is None
    clock[0] = now + FIRST_RUN_GRACE - timedelta(seconds=1)
    await scheduler.tick()
    assert runner.calls == []
    clock[0] = now + FIRST_RUN_GRACE
    await scheduler.tick()
    await scheduler.drain()
    assert runner.calls == [(fresh.id, SyncTrigger.SCHEDULED)]


async def test_a_reconnected_integration_is_left_to_its_connect_flow() -> None:
    """An OAuth re-connect makes a NEEDS_REAUTH integration CONNECTED again, announces it and
    then queues its sync. Its last run (failed, asking to reconnect) is long past its retry
    time, so a tick in between would start a run of its own and make the connect's request a
    follow-up: two runs for one re-connect. Within ``FIRST_RUN_GRACE`` of ``connected_at``
    the scheduler leaves it to the connect flow, whatever runs it had before."""
    store, scheduler, runner, clock = await _setup(datetime.now(UTC))
    org = await store.organizations.create(name="Acme")
    integration = await connected_integration(store, org.id)
    failed = await _finished_run(store, integration.id, org.id, SyncRunStatus.FAILED)
    reconnected = failed.finished_at + timedelta(days=3)
    await store.integrations.update(integration_id=integration.id, connected_at=reconnected)

    clock[0] = reconnected
    await scheduler.tick()
    clock[0] = reconnected + FIRST_RUN_GRACE - timedelta(seconds=1)
    await scheduler.tick()
    await scheduler.drain()
    assert runner.calls == []
    assert await store.sync_runs.get_active(integration_id=integration.id) is None
    clock[0] = reconnected + FIRST_RUN_GRACE
    await scheduler.tick()
    await scheduler.drain()
    assert runner.calls == [(integration.id, SyncTrigger.SCHEDULED)]


async def test_failed_runs_are_retried_sooner() -> None:
    store, scheduler, runner, clock = await _setup(datetime.now(UTC))
    org = await store.organizations.create(name="Acme")
    integration = await connected_integration(store, org.id)
    failed = await _finished_run(store, integration.id, org.id, SyncRunStatus.FAILED)
    clock[0] = failed.finished_at + timedelta(minutes=25)
    await scheduler.tick()
    assert runner.calls == []
    jitter = jitter_for(integration.id, timedelta(minutes=360), 0.1)
    clock[0] = failed.finished_at + timedelta(minutes=30) + jitter + timedelta(seconds=1)
    await scheduler.tick()
    await scheduler.drain()
    assert runner.calls == [(integration.id, SyncTrigger.SCHEDULED)]


async def test_abandoned_running_run_is_taken_over_once_its_lease_expired() -> None:
    now = datetime.now(UTC)
    store, scheduler, runner, clock = await _setup(now)
    org = await store.organizations.create(name="Acme")
    integration = await connected_integration(store, org.id)
    run = await store.sync_runs.create(
        RunRequest(org.id, integration.id, Purpose.ACCESS_REVIEW, SyncTrigger.MANUAL)
    )
    assert run is not None
    lease = await store.sync_leases.acquire(
        integration_id=integration.id, owner="dead", ttl=timedelta(seconds=10), now=now
    )
    assert lease is not None
    await store.sync_runs.claim(run_id=run.id, owner="dead", fence=lease.token)

    await scheduler.tick()
    assert runner.calls == []  # its lease is still valid
    clock[0] = now + timedelta(seconds=11)
    await scheduler.tick()
    await scheduler.drain()
    assert runner.calls == [(integration.id, SyncTrigger.MANUAL)]


async def test_submit_runs_an_integration_once_per_process() -> None:
    _, scheduler, runner, _ = await _setup(datetime.now(UTC))
    assert scheduler.submit("int_1")
    assert not scheduler.submit("int_1")  # still running here
    await scheduler.drain()
    assert scheduler.submit("int_1")
    await scheduler.drain()
    assert runner.calls == [("int_1", None)] * 2


class QueueingRunner:
    """Runs the queued run; the first finishes while someone queues another (a trigger
    during the run)."""

    def __init__(self, store: Store, integration: Integration) -> None:
        self.store, self.integration = store, integration
        self.calls: list[SyncTrigger] = []

    async def execute(self, integration_id: str) -> SyncRun | None:
        runs = self.store.sync_runs
        active = await runs.get_active(integration_id=integration_id)
        assert active is not None
        self.calls.append(active.trigger)
        await runs.claim(run_id=active.id, owner="w", fence=1)
        done = await runs.finish(
            run_id=active.id, fence=1, end=RunEnd(SyncRunStatus.SUCCEEDED, SyncProgress())
        )
        if len(self.calls) == 1:
            await make_queue(self.store).submit(self.integration, SyncTrigger.MANUAL)
        return done


async def test_a_run_queued_while_one_finishes_starts_without_waiting_for_a_tick() -> None:
    store = open_store("mock", None)
    await store.ensure_indexes()
    integration = await connected_integration(store, "org_q")
    runner = QueueingRunner(store, integration)
    scheduler = make_scheduler(store, runner, tick_seconds=3600)
    await make_queue(store).submit(integration, SyncTrigger.MANUAL)
    assert scheduler.submit(integration.id)
    assert not scheduler.submit(integration.id)  # ours is still running
    await scheduler.drain()
    await scheduler.drain()
    assert runner.calls == [SyncTrigger.MANUAL, SyncTrigger.MANUAL]


async def test_each_completed_tick_beats_and_a_failed_tick_does_not() -> None:
    store = open_store("mock", None)
    await store.ensure_indexes()
    beats: list[int] = []
    fail = asyncio.Event()

    class Flaky(Scheduler):
        failed = 0

        async def tick(self) -> None:
            if fail.is_set():
                self.failed += 1
                raise RuntimeError("database unreachable")
            await super().tick()

    scheduler = Flaky(
        FakeRunner(store),
        make_queue(store),
        integrations=store.integrations,
        sync_runs=store.sync_runs,
        sync_leases=store.sync_leases,
        tick_seconds=0.001,
        on_tick=beats.append,
    )
    loop = asyncio.create_task(scheduler.run_forever())
    try:
        await until(lambda: len(beats) >= 3, what="three heartbeats")
        fail.set()
        stalled = scheduler.ticks
        await until(lambda: scheduler.failed >= 3, what="three failed ticks")
        assert scheduler.ticks == stalled and beats[-1] == stalled  # no beat while failing
        assert beats[:3] == [1, 2, 3]
        assert not loop.done()  # a failed tick does not stop the loop
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
