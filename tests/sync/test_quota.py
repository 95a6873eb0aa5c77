"""An exhausted hourly quota (confluence-api.md §7) ends a run with "quota exhausted until
HH:MM UTC", and the scheduler does not start another run of that integration before then."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.integrations.models import Purpose
from services.scheduler import jitter_for
from services.sync.models import RunEnd, RunRequest, SyncProgress, SyncRunStatus, SyncTrigger
from simulator import RunningSimulator
from testkit.live import open_store
from testkit.sync import connected_integration
from tests.sync.support import make_scheduler, sync_once
from tests.sync.test_scheduler import FakeRunner


async def test_an_exhausted_hourly_quota_ends_the_run_until_the_reset(
    small_sim: RunningSimulator,
) -> None:
    sim = small_sim.sim
    until = (sim.clock.now() + timedelta(minutes=45)).replace(second=0, microsecond=0)
    sim.faults.exhaust_quota(until=until)
    store, run = await sync_once(small_sim)
    assert run.status is SyncRunStatus.FAILED
    assert run.error is not None
    assert f"quota is exhausted until {until:%H:%M} UTC" in run.error, run.error
    assert "internal error" not in run.error
    stored = await store.sync_runs.get(run_id=run.id)
    assert stored is not None and stored.not_before == until
    assert sim.counters.faults("quota") == 1  # no sleeping through the hour: one attempt


async def test_the_scheduler_waits_for_the_quota_reset() -> None:
    store = open_store("mock", None)
    await store.ensure_indexes()
    org = await store.organizations.create(name="Acme")
    integration = await connected_integration(store, org.id)
    runner = FakeRunner(store)
    now = datetime.now(UTC)
    clock = [now]
    scheduler = make_scheduler(store, runner, clock=lambda: clock[0])
    run = await store.sync_runs.create(
        RunRequest(org.id, integration.id, Purpose.ACCESS_REVIEW, SyncTrigger.SCHEDULED)
    )
    assert run is not None
    await store.sync_runs.claim(run_id=run.id, owner="w", fence=1)
    reset = now + timedelta(minutes=50)
    failed = await store.sync_runs.finish(
        run_id=run.id,
        fence=1,
        end=RunEnd(SyncRunStatus.FAILED, SyncProgress(), error="quota exhausted", not_before=reset),
    )
    assert failed is not None and failed.not_before is not None
    clock[0] = now + timedelta(minutes=45)  # past the 30-minute retry after a failure
    await scheduler.tick()
    assert runner.calls == []
    jitter = jitter_for(integration.id, timedelta(minutes=360), 0.1)
    clock[0] = failed.not_before + jitter + timedelta(seconds=1)
    await scheduler.tick()
    await scheduler.drain()
    assert runner.calls == [(integration.id, SyncTrigger.SCHEDULED)]
