"""Running one sync of one integration under its lease, from claim to commit (ADR 003).

``execute`` takes the integration's lease (or returns None: someone else is running it),
announces the lease's fencing token, fails a run left RUNNING by a worker whose lease
expired, claims the queued run (creating one if there is none), collects into the run's
snapshot while a heartbeat keeps the lease, and commits: one fenced write makes the
snapshot current. Any failure leaves the previous snapshot current and records why.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from services.clock import Clock, utcnow
from services.events import EventBus, topic_for
from services.integrations.changes import INTEGRATIONS_CHANNEL
from services.integrations.models import Integration, IntegrationStatus, Purpose
from services.sync.collect import Collection, CollectionDataRepo
from services.sync.connector import ConnectorFactory
from services.sync.failures import CommitRejected, Failure, describe
from services.sync.lease import LeaseKeeper, LeaseRenewRepo
from services.sync.models import (
    Lease,
    Phase,
    SnapshotCounts,
    SnapshotScope,
    SyncProgress,
    SyncRun,
    SyncRunStatus,
    SyncTrigger,
)
from services.sync.progress import NullSyncMetrics, ProgressTracker, RunProgressRepo, SyncMetrics
from services.sync.retention import Retention, SnapshotDeleter

log = logging.getLogger(__name__)

SnapshotListener = Callable[[Integration, SyncRun], Awaitable[None]]
ReauthHandler = Callable[[Integration, str], Awaitable[None]]
STALE_RUN = "the worker running this sync stopped responding (its lease expired)"


class RunnerIntegrationsRepo(Protocol):
    """The ``IntegrationRepository`` methods ``SyncRunner`` calls."""

    async def get_by_id(self, *, integration_id: str) -> Integration | None: ...
    async def update(
        self, *, integration_id: str, expect_status: IntegrationStatus | None = None, **fields: Any
    ) -> Integration | None: ...


class SyncRunsRepo(RunProgressRepo, Protocol):
    """The ``SyncRunRepository`` methods ``SyncRunner`` calls (and its ``ProgressTracker``)."""

    async def get_active(self, *, integration_id: str) -> SyncRun | None: ...
    async def create(
        self,
        *,
        organization_id: str,
        integration_id: str,
        purpose: Purpose,
        trigger: SyncTrigger,
    ) -> SyncRun | None: ...
    async def claim(self, *, run_id: str, owner: str, fence: int) -> SyncRun | None: ...
    async def finish(
        self,
        *,
        run_id: str,
        fence: int | None,
        status: SyncRunStatus,
        progress: SyncProgress,
        error: str | None = None,
        error_endpoint: str | None = None,
        counts: SnapshotCounts | None = None,
        not_before: datetime | None = None,
        warnings: tuple[str, ...] = (),
    ) -> SyncRun | None: ...


class SyncLeasesRepo(LeaseRenewRepo, Protocol):
    """The ``LeaseRepository`` methods ``SyncRunner`` calls (and its ``LeaseKeeper``)."""

    async def acquire(
        self, *, integration_id: str, owner: str, ttl: timedelta, now: datetime
    ) -> Lease | None: ...
    async def announce_fence(self, *, integration_id: str, token: int) -> None: ...
    async def set_run(self, *, integration_id: str, token: int, run_id: str) -> bool: ...
    async def commit_snapshot(
        self,
        *,
        integration_id: str,
        token: int,
        snapshot_id: str,
        snapshot_at: datetime,
    ) -> bool: ...
    async def release(self, *, integration_id: str, token: int) -> None: ...


class SnapshotDataRepo(CollectionDataRepo, SnapshotDeleter, Protocol):
    """The ``SnapshotDataRepository`` methods ``SyncRunner`` calls (and its ``Collection``)."""

    async def record_counts(self, snapshot_id: str) -> SnapshotCounts: ...
    async def counts(self, snapshot_id: str) -> SnapshotCounts: ...


@dataclass
class RunnerOptions:
    """Tunables of the runner (from settings)."""

    owner: str
    lease_ttl: timedelta = timedelta(seconds=60)
    concurrency: int = 8
    persist_interval: float = 0.5
    clock: Clock = utcnow


@dataclass
class SyncRunner:
    """Executes sync runs; safe to call from many processes at once (the lease decides)."""

    integrations: RunnerIntegrationsRepo
    sync_runs: SyncRunsRepo
    sync_leases: SyncLeasesRepo
    snapshot_data: SnapshotDataRepo
    bus: EventBus
    connectors: ConnectorFactory
    retention: Retention
    options: RunnerOptions
    metrics: SyncMetrics = field(default_factory=NullSyncMetrics)
    listeners: Sequence[SnapshotListener] = ()
    # Marks an integration NEEDS_REAUTH (the connect service's, so its listeners hear it).
    on_reauth: ReauthHandler | None = None

    async def execute(
        self, integration_id: str, trigger: SyncTrigger = SyncTrigger.SCHEDULED
    ) -> SyncRun | None:
        """Run the integration's queued run (or a new one); None if another worker holds it."""
        leases = self.sync_leases
        lease = await leases.acquire(
            integration_id=integration_id,
            owner=self.options.owner,
            ttl=self.options.lease_ttl,
            now=self.options.clock(),
        )
        if lease is None:
            return None
        try:
            await leases.announce_fence(integration_id=integration_id, token=lease.token)
            claimed = await self._claim(integration_id, lease, trigger)
            if claimed is None:
                return None
            integration, run = claimed
            return await self._run(integration, run, lease)
        finally:
            await leases.release(integration_id=integration_id, token=lease.token)

    async def _claim(
        self, integration_id: str, lease: Lease, trigger: SyncTrigger
    ) -> tuple[Integration, SyncRun] | None:
        runs = self.sync_runs
        integration = await self.integrations.get_by_id(integration_id=integration_id)
        active = await runs.get_active(integration_id=integration_id)
        if active is not None and active.status is SyncRunStatus.RUNNING:
            await self._fail_stale(active)  # we hold the lease, so its holder lost it
            trigger, active = active.trigger, None
        if integration is None or integration.status is not IntegrationStatus.CONNECTED:
            if active is not None:
                await self._finish_failed(active, Failure("the integration is not connected"))
            return None
        if active is None:
            active = await runs.create(
                organization_id=integration.organization_id,
                integration_id=integration.id,
                purpose=integration.purpose,
                trigger=trigger,
            ) or await runs.get_active(integration_id=integration_id)
        if active is None:
            return None
        run = await runs.claim(run_id=active.id, owner=self.options.owner, fence=lease.token)
        if run is None:
            return None
        # Read the integration again now that the run is RUNNING: a change made before the
        # claim (an admin key) is seen by this run; one made after queues a follow-up run.
        integration = await self.integrations.get_by_id(integration_id=integration_id)
        if integration is None or integration.status is not IntegrationStatus.CONNECTED:
            await self._finish_failed(run, Failure("the integration is not connected"))
            return None
        await self.sync_leases.set_run(
            integration_id=integration_id, token=lease.token, run_id=run.id
        )
        return integration, run

    async def _run(self, integration: Integration, run: SyncRun, lease: Lease) -> SyncRun:
        tracker = ProgressTracker(
            run,
            self.sync_runs,
            self.bus,
            self.metrics,
            persist_interval=self.options.persist_interval,
        )
        log.info("sync run %s of %s started", run.id, integration.id)
        try:
            keeper = LeaseKeeper(self.sync_leases, lease, self.options)
            await keeper.guard(self._collect_and_commit(integration, tracker))
        except asyncio.CancelledError:
            await self._fail(integration, tracker, Failure("the worker stopped during the run"))
            raise
        except Exception as exc:
            failure = describe(exc)
            if failure.unexpected:
                log.exception("sync run %s failed unexpectedly", run.id)
            return await self._fail(integration, tracker, failure, exc)
        return await self._succeed(integration, tracker)

    async def _collect_and_commit(self, integration: Integration, tracker: ProgressTracker) -> None:
        run = tracker.run
        scope = SnapshotScope(run.snapshot_id, integration.id, integration.organization_id)
        async with self.connectors.open(integration, tracker.observe_retry) as connector:
            collection = Collection(
                integration,
                connector,
                self.snapshot_data,
                scope,
                tracker,
                concurrency=self.options.concurrency,
            )
            await collection.run()
        await tracker.enter(Phase.COMMITTING)
        await self.snapshot_data.record_counts(run.snapshot_id)
        assert run.fence is not None
        committed = await self.sync_leases.commit_snapshot(
            integration_id=integration.id,
            token=run.fence,
            snapshot_id=run.snapshot_id,
            snapshot_at=self.options.clock(),
        )
        if not committed:
            raise CommitRejected(
                "the snapshot was not made current: another worker took over this "
                "integration, or it is no longer connected"
            )

    async def _succeed(self, integration: Integration, tracker: ProgressTracker) -> SyncRun:
        run = tracker.run
        counts = await self.snapshot_data.counts(run.snapshot_id)
        tracker.phase = Phase.DONE.value
        finished = await self.sync_runs.finish(
            run_id=run.id,
            fence=run.fence,
            status=SyncRunStatus.SUCCEEDED,
            progress=tracker.progress(),
            counts=counts,
            warnings=tuple(tracker.warnings),
        )
        final = finished or tracker.current()
        self.metrics.run_finished(integration.purpose.value, SyncRunStatus.SUCCEEDED.value)
        await tracker.publish(final)
        await self._queue_follow_up(finished)
        log.info("sync run %s succeeded: %s", run.id, counts)
        await self.retention.apply(
            integration_id=integration.id, current_snapshot_id=run.snapshot_id
        )
        for listener in self.listeners:
            try:
                await listener(integration, final)
            except Exception:
                log.exception("snapshot listener failed after run %s", run.id)
        return final

    async def _fail(
        self,
        integration: Integration,
        tracker: ProgressTracker,
        failure: Failure,
        exc: BaseException | None = None,
    ) -> SyncRun:
        run = tracker.run
        if exc is not None and failure.endpoint is not None:
            tracker.failed_call(failure.status)
        log.warning("sync run %s failed: %s", run.id, failure.message)
        tracker.phase = Phase.FAILED.value
        await self.snapshot_data.delete_snapshot(run.snapshot_id)
        finished = await self.sync_runs.finish(
            run_id=run.id,
            fence=run.fence,
            status=SyncRunStatus.FAILED,
            progress=tracker.progress(),
            error=failure.message,
            error_endpoint=failure.endpoint,
            not_before=failure.not_before,
            warnings=tuple(tracker.warnings),
        )
        if finished is None:  # taken over: the new lease holder already ended this run
            return replace(tracker.current(), status=SyncRunStatus.FAILED, error=failure.message)
        self.metrics.run_finished(integration.purpose.value, SyncRunStatus.FAILED.value)
        if failure.needs_reauth:
            await self._needs_reauth(integration, failure.message)
        await tracker.publish(finished)
        if not failure.needs_reauth and failure.not_before is None:
            await self._queue_follow_up(finished)  # (a re-connect queues its own run)
        return finished

    async def _queue_follow_up(self, finished: SyncRun | None) -> None:
        """Queue the follow-up run asked for while ``finished`` ran (the scheduler that ran
        this one starts it next; any worker's tick otherwise)."""
        if finished is None or finished.follow_up is None:
            return
        queued = await self.sync_runs.create(
            organization_id=finished.organization_id,
            integration_id=finished.integration_id,
            purpose=finished.purpose,
            trigger=finished.follow_up,
        )
        log.info("follow-up run %s queued after %s", queued.id if queued else "-", finished.id)

    async def _needs_reauth(self, integration: Integration, message: str) -> None:
        if self.on_reauth is not None:
            await self.on_reauth(integration, message)
            return
        updated = await self.integrations.update(
            integration_id=integration.id,
            expect_status=IntegrationStatus.CONNECTED,
            status=IntegrationStatus.NEEDS_REAUTH,
            status_message=message,
        )
        if updated is not None:
            topic = topic_for(integration.organization_id, INTEGRATIONS_CHANNEL)
            await self.bus.publish(topic, {"integration_id": integration.id})

    async def _fail_stale(self, run: SyncRun) -> None:
        log.warning("sync run %s was abandoned by %s; marking it failed", run.id, run.owner)
        await self.snapshot_data.delete_snapshot(run.snapshot_id)
        await self._finish_failed(run, Failure(STALE_RUN))

    async def _finish_failed(self, run: SyncRun, failure: Failure) -> None:
        finished = await self.sync_runs.finish(
            run_id=run.id,
            fence=run.fence,
            status=SyncRunStatus.FAILED,
            progress=run.progress,
            error=failure.message,
        )
        if finished is not None:
            self.metrics.run_finished(run.purpose.value, SyncRunStatus.FAILED.value)
            await ProgressTracker(finished, self.sync_runs, self.bus, self.metrics).publish(
                finished
            )
