"""The worker's periodic loop: starts queued, abandoned and due sync runs.

Every ``tick`` seconds it looks at the active runs (QUEUED ones are started; RUNNING ones
whose lease expired are taken over) and at every CONNECTED integration, submitting a
SCHEDULED run to the ``RunQueue`` and starting it when ``syncIntervalMinutes`` have passed
since its latest run (30 minutes after a failure, at most; after a run ended by an exhausted
quota, not before the reset). A never-run integration is its connect flow's to start: the
scheduler starts it ``FIRST_RUN_GRACE`` after it connected, if the flow stopped before
queueing. Each integration gets a stable jitter — a share of its interval derived from its
id — so sites connected together do not all sync together. Many workers may run this loop:
the lease the queue's claim takes makes sure one run per integration runs.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from datetime import timedelta
from typing import Protocol

from services.clock import Clock, utcnow
from services.integrations.models import Integration
from services.sync.models import Lease, SyncRun, SyncRunStatus, SyncTrigger
from services.sync.queue import RunQueue
from services.tasks import cancel_and_wait

log = logging.getLogger(__name__)

RETRY_AFTER_FAILURE = timedelta(minutes=30)
# A connect flow makes an integration CONNECTED, then stores its credential (an OAuth
# re-connect of a site that needs re-authorising: announces the change), then queues its sync.
# A run started in between would find no credential, or make that sync a follow-up: two runs.
# The scheduler leaves an integration alone this long after it connected or re-connected.
FIRST_RUN_GRACE = timedelta(minutes=1)


def jitter_for(integration_id: str, interval: timedelta, fraction: float) -> timedelta:
    """A stable offset in ``[0, fraction * interval)`` derived from the integration id."""
    digest = hashlib.sha256(integration_id.encode()).digest()
    share = int.from_bytes(digest[:8], "big") / 2**64
    return interval * fraction * share


class IntegrationsRepo(Protocol):
    """The ``IntegrationRepository`` methods ``Scheduler`` calls."""

    async def list_connected(self) -> list[Integration]: ...


class SyncRunsRepo(Protocol):
    """The ``SyncRunRepository`` methods ``Scheduler`` calls."""

    async def get_active(self, *, integration_id: str) -> SyncRun | None: ...
    async def latest(self, *, integration_id: str) -> SyncRun | None: ...
    async def list_active(self) -> list[SyncRun]: ...


class Executor(Protocol):
    """The ``SyncRunner`` method ``Scheduler`` calls."""

    async def execute(self, integration_id: str) -> SyncRun | None: ...


class SyncLeasesRepo(Protocol):
    """The ``LeaseRepository`` methods ``Scheduler`` calls."""

    async def get(self, *, integration_id: str) -> Lease | None: ...


@dataclass(eq=False, repr=False)
class Scheduler:
    """Starts sync runs in this process (bounded), on a timer and on demand (``submit``)."""

    runner: Executor
    queue: RunQueue
    _: KW_ONLY
    integrations: IntegrationsRepo
    sync_runs: SyncRunsRepo
    sync_leases: SyncLeasesRepo
    tick_seconds: float = 5.0
    max_parallel: int = 4
    jitter_fraction: float = 0.1
    clock: Clock = utcnow
    on_tick: Callable[[int], None] | None = None
    ticks: int = field(init=False, default=0)  # ticks completed without error
    _slots: asyncio.Semaphore = field(init=False)
    _running: dict[str, asyncio.Task[None]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._slots = asyncio.Semaphore(self.max_parallel)

    def submit(self, integration_id: str) -> bool:
        """Start the integration's queued run here unless this process is already running one."""
        task = self._running.get(integration_id)
        if task is not None and not task.done():
            return False
        task = asyncio.create_task(self._execute(integration_id))
        self._running[integration_id] = task
        task.add_done_callback(lambda _: self._forget(integration_id, task))
        return True

    async def run_forever(self) -> None:
        """Tick until cancelled; cancelling also cancels the runs this process started."""
        log.info("scheduler started (tick %.1fs)", self.tick_seconds)
        try:
            while True:
                try:
                    await self.tick()
                except Exception:
                    log.exception("scheduler tick failed")
                else:
                    self.ticks += 1
                    self._beat()
                await asyncio.sleep(self.tick_seconds)
        finally:
            await self.stop()

    def _beat(self) -> None:
        """Tell ``on_tick`` (the worker's heartbeat) that a tick completed."""
        if self.on_tick is None:
            return
        try:
            self.on_tick(self.ticks)
        except Exception:
            log.exception("scheduler heartbeat failed")

    async def tick(self) -> None:
        """Start queued, abandoned and due runs."""
        busy: set[str] = set()
        for run in await self.sync_runs.list_active():
            busy.add(run.integration_id)
            if run.status is SyncRunStatus.QUEUED or await self._abandoned(run):
                self.submit(run.integration_id)
        for integration in await self.integrations.list_connected():
            if integration.id not in busy and await self._due(integration):
                await self.queue.submit(integration, SyncTrigger.SCHEDULED)
                self.submit(integration.id)

    async def drain(self) -> None:
        """Wait for the runs started so far (tests, shutdown)."""
        tasks = [t for t in self._running.values() if not t.done()]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def stop(self) -> None:
        """Cancel the runs this process started and wait for them to record their end."""
        await cancel_and_wait(self._running.values())

    async def _execute(self, integration_id: str) -> None:
        async with self._slots:
            while True:
                try:
                    ran = await self.runner.execute(integration_id)
                except Exception:
                    log.exception("sync of %s failed to run", integration_id)
                    return
                # A run queued while ours was finishing (``submit`` refused it because this
                # task was still alive) starts now instead of waiting for the next tick.
                queued = await self.sync_runs.get_active(integration_id=integration_id)
                if ran is None or queued is None or queued.status is not SyncRunStatus.QUEUED:
                    return

    def _forget(self, integration_id: str, task: asyncio.Task[None]) -> None:
        if self._running.get(integration_id) is task:
            del self._running[integration_id]

    async def _abandoned(self, run: SyncRun) -> bool:
        if integration_running_here := self._running.get(run.integration_id):
            return integration_running_here.done()
        lease = await self.sync_leases.get(integration_id=run.integration_id)
        return lease is None or lease.expires_at <= self.clock()

    async def _due(self, integration: Integration) -> bool:
        connected = integration.connected_at
        if connected is not None and self.clock() < connected + FIRST_RUN_GRACE:
            return False  # its connect flow queues the sync
        latest = await self.sync_runs.latest(integration_id=integration.id)
        if latest is None:
            return True
        interval = timedelta(minutes=integration.sync_interval_minutes)
        wait = interval
        if latest.status is SyncRunStatus.FAILED:
            wait = min(interval, RETRY_AFTER_FAILURE)
        since = latest.finished_at or latest.created_at
        jitter = jitter_for(integration.id, interval, self.jitter_fraction)
        due = since + wait + jitter
        if latest.status is SyncRunStatus.FAILED and latest.not_before is not None:
            # Atlassian refuses until then (an exhausted quota): not before, and the jitter
            # spreads the integrations that all hit the app-wide quota.
            due = max(due, latest.not_before + jitter)
        return self.clock() >= due
