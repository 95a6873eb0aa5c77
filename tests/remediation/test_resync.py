"""After a verified change Vigil syncs so the checks see it (ADR 010); a sync that was
already running may predate the change, so one more is queued when it has finished."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

from services.integrations.models import Integration, Purpose
from services.remediation.resync import Resync
from services.sync.models import SyncRun, SyncRunStatus, SyncTrigger
from testkit.sync import integration_at

NOW = datetime(2026, 11, 30, tzinfo=UTC)
INTEGRATION = integration_at(NOW)


def run(status: SyncRunStatus, run_id: str = "run_1") -> SyncRun:
    return SyncRun(
        id=run_id,
        organization_id="org_1",
        integration_id="int_1",
        purpose=Purpose.ACCESS_REVIEW,
        status=status,
        trigger=SyncTrigger.MANUAL,
        snapshot_id="snap_1",
        created_at=NOW,
    )


class Runs:
    def __init__(self, active: SyncRun) -> None:
        self.active = active
        self.enqueued: list[SyncTrigger] = []
        self.second = asyncio.Event()

    async def enqueue(self, integration: Integration, trigger: SyncTrigger) -> SyncRun:
        self.enqueued.append(trigger)
        if len(self.enqueued) == 2:
            self.second.set()
        return self.active

    async def get(self, run_id: str) -> SyncRun | None:
        return self.active


async def test_a_queued_sync_is_enough() -> None:
    runs = Runs(run(SyncRunStatus.QUEUED))
    resync = Resync(runs.enqueue, runs.get, poll_seconds=0)
    await resync(INTEGRATION)
    assert runs.enqueued == [SyncTrigger.MANUAL] and not resync.follow_ups


async def test_a_running_sync_is_followed_by_one_more_once_it_finished() -> None:
    runs = Runs(run(SyncRunStatus.RUNNING))
    resync = Resync(runs.enqueue, runs.get, poll_seconds=0)
    await resync(INTEGRATION)
    assert len(runs.enqueued) == 1 and len(resync.follow_ups) == 1
    for _ in range(20):  # the follow-up keeps waiting while the run is RUNNING
        await asyncio.sleep(0)
    assert len(runs.enqueued) == 1
    runs.active = replace(runs.active, status=SyncRunStatus.SUCCEEDED)
    await asyncio.wait_for(runs.second.wait(), timeout=5)
    assert runs.enqueued == [SyncTrigger.MANUAL, SyncTrigger.MANUAL]


async def test_stopping_cancels_a_waiting_follow_up() -> None:
    runs = Runs(run(SyncRunStatus.RUNNING))
    resync = Resync(runs.enqueue, runs.get, poll_seconds=0)
    await resync(INTEGRATION)
    await resync.stop()
    assert not resync.follow_ups and len(runs.enqueued) == 1
