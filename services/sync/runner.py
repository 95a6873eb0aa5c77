"""Running one claimed sync run under its lease, from collection to commit (ADR 003).

``execute`` asks the ``RunQueue`` for the integration's run (the queue takes the lease,
announces its fencing token, claims the run and reads the integration), collects into the
run's snapshot while a heartbeat keeps the lease — everything (FULL), or what events named on
top of the current snapshot (TARGETED, ``services.sync.targeted``; one that cannot be exact
reads everything instead) — and commits: one fenced write makes the snapshot current, and
moves the change watch's position when the run carries one (ADR 020). Any failure leaves the
previous snapshot current and records why; a refused credential is reported to
``on_reauth_needed``, the failed run to ``on_sync_failed`` (alerts; not a run stopped with its
worker), and a follow-up asked for during the run is handed back to the queue.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Protocol

from services.clock import Clock, utcnow
from services.events import EventBus
from services.integrations.models import Integration
from services.sync.collect import ROLE_READS, Collection, CollectionDataRepo
from services.sync.connector import Connector, ConnectorFactory
from services.sync.failures import CommitRejected, Failure, describe
from services.sync.lease import LeaseKeeper, LeaseRenewRepo
from services.sync.models import (
    Phase,
    RunEnd,
    SnapshotCommit,
    SnapshotCounts,
    SnapshotScope,
    SyncRun,
    SyncRunKind,
    SyncRunStatus,
)
from services.sync.progress import (
    Disconnected,
    LeaseLost,
    NullSyncMetrics,
    ProgressTracker,
    RunProgressRepo,
    SyncMetrics,
)
from services.sync.queue import Claim, RunEndRepo, RunQueue
from services.sync.retention import Retention, SnapshotDeleter
from services.sync.targeted import MAX_LAYER, NeedsFullSync, RefreshDataRepo, TargetedRefresh

log = logging.getLogger(__name__)

OnCommitted = Callable[[Integration, SyncRun], Awaitable[None]]
OnReauthNeeded = Callable[[Integration, str], Awaitable[None]]
OnSyncFailed = Callable[[Integration, SyncRun], Awaitable[None]]


async def ignore_sync_failure(integration: Integration, run: SyncRun) -> None:
    """The default ``on_sync_failed``: nobody needs to know."""


class SyncRunsRepo(RunProgressRepo, RunEndRepo, Protocol):
    """The ``SyncRunRepository`` methods ``SyncRunner`` calls (and its ``ProgressTracker``)."""

    async def set_kind(self, *, run_id: str, fence: int, kind: SyncRunKind) -> bool: ...


class SyncLeasesRepo(LeaseRenewRepo, Protocol):
    """The ``LeaseRepository`` methods ``SyncRunner`` calls (and its ``LeaseKeeper``)."""

    async def commit_snapshot(self, commit: SnapshotCommit) -> bool: ...


class SnapshotDataRepo(CollectionDataRepo, SnapshotDeleter, Protocol):
    """The ``SnapshotDataRepository`` methods ``SyncRunner`` calls (and its ``Collection``)."""

    async def record_counts(self, snapshot_id: str) -> SnapshotCounts: ...
    async def counts(self, snapshot_id: str) -> SnapshotCounts: ...


@dataclass
class RunnerOptions:
    """Tunables of a worker (from settings): its ``RunQueue`` claims with ``owner``,
    ``lease_ttl`` and ``clock`` (the same object, so both see the same time)."""

    owner: str
    lease_ttl: timedelta = timedelta(seconds=60)
    concurrency: int = 8
    # Admin API role-assignment reads per ACCESS_REVIEW run, at most (docs/access.md).
    role_reads: int = ROLE_READS
    # Accounts a targeted run's layer may hold before it reads everything instead (ADR 020).
    max_layer: int = MAX_LAYER
    persist_interval: float = 0.5
    clock: Clock = utcnow


@dataclass
class SyncRunner:
    """Executes the runs ``queue`` hands out; safe in many processes at once (the lease
    decides)."""

    queue: RunQueue
    sync_runs: SyncRunsRepo
    sync_leases: SyncLeasesRepo
    snapshot_data: SnapshotDataRepo
    bus: EventBus
    connectors: ConnectorFactory
    retention: Retention
    options: RunnerOptions
    # Marks an integration NEEDS_REAUTH: ``IntegrationChanges.mark_needs_reauth``.
    on_reauth_needed: OnReauthNeeded
    metrics: SyncMetrics = field(default_factory=NullSyncMetrics)
    on_committed: Sequence[OnCommitted] = ()
    on_sync_failed: OnSyncFailed = ignore_sync_failure
    # What TARGETED runs read of the current snapshot and write (without it they read all).
    refresh_data: RefreshDataRepo | None = None

    async def execute(self, integration_id: str) -> SyncRun | None:
        """Run the integration's queued run (or take over an abandoned one) here; None when
        there is none, or another worker holds the integration's lease."""
        async with self.queue.claim(integration_id) as claim:
            return None if claim is None else await self.run(claim)

    async def run(self, claim: Claim) -> SyncRun:
        """Collect and commit the claimed run; the run as it ended."""
        integration = claim.integration
        run = replace(claim.run, previous_snapshot_id=integration.current_snapshot_id)
        tracker = ProgressTracker(
            run,
            self.sync_runs,
            self.bus,
            self.metrics,
            persist_interval=self.options.persist_interval,
        )
        log.info("sync run %s of %s started", run.id, integration.id)
        try:
            keeper = LeaseKeeper(self.sync_leases, claim.lease, self.options)
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
        full = run.kind is SyncRunKind.FULL
        async with self.connectors.open(integration, tracker.observe_retry) as connector:
            if not full:
                try:
                    await self._refresh(integration, connector, scope, tracker)
                except NeedsFullSync as why:
                    await self._read_everything(tracker, str(why))
                    full = True
            if full:
                collection = Collection(
                    integration,
                    connector,
                    self.snapshot_data,
                    scope,
                    tracker,
                    concurrency=self.options.concurrency,
                    role_reads=self.options.role_reads,
                )
                await collection.run()
        await tracker.enter(Phase.COMMITTING)
        if full:
            await self.snapshot_data.record_counts(run.snapshot_id)
        assert run.fence is not None
        committed = await self.sync_leases.commit_snapshot(
            SnapshotCommit(
                integration_id=integration.id,
                token=run.fence,
                snapshot_id=run.snapshot_id,
                snapshot_at=self.options.clock(),
                watch=run.watch,
                full=full,
            )
        )
        if not committed:
            raise CommitRejected(
                "the snapshot was not made current: another worker took over this "
                "integration, or it is no longer connected"
            )

    async def _refresh(
        self,
        integration: Integration,
        connector: Connector,
        scope: SnapshotScope,
        tracker: ProgressTracker,
    ) -> None:
        """A TARGETED run's work (``services.sync.targeted``)."""
        run = tracker.run
        if self.refresh_data is None or run.previous_snapshot_id is None:
            raise NeedsFullSync("there is no snapshot to refresh")
        refresh = TargetedRefresh(
            integration,
            connector,
            self.refresh_data,
            scope,
            tracker,
            previous_id=run.previous_snapshot_id,
            targets=run.targets,
            role_reads=self.options.role_reads,
            max_layer=self.options.max_layer,
            concurrency=self.options.concurrency,
            events_until=run.watch.processed_at if run.watch else None,
        )
        await refresh.run()

    async def _read_everything(self, tracker: ProgressTracker, why: str) -> None:
        """A TARGETED run that cannot be exact becomes a FULL one (same run, same fence)."""
        run = tracker.run
        await self.snapshot_data.delete_snapshot(run.snapshot_id)
        assert run.fence is not None
        ours = await self.sync_runs.set_kind(run_id=run.id, fence=run.fence, kind=SyncRunKind.FULL)
        if not ours:
            raise LeaseLost(f"sync run {run.id} was taken over by another worker")
        tracker.run = replace(run, kind=SyncRunKind.FULL)
        tracker.warn(f"Read in full instead of refreshing what events named: {why}.")
        log.info("sync run %s reads everything: %s", run.id, why)

    async def _succeed(self, integration: Integration, tracker: ProgressTracker) -> SyncRun:
        run = tracker.run
        counts = await self.snapshot_data.counts(run.snapshot_id)
        tracker.phase = Phase.DONE.value
        finished = await self.sync_runs.finish(
            run_id=run.id,
            fence=run.fence,
            end=RunEnd(
                SyncRunStatus.SUCCEEDED,
                tracker.progress(),
                counts=counts,
                warnings=tuple(tracker.warnings),
                previous_snapshot_id=run.previous_snapshot_id,
            ),
        )
        final = finished or tracker.current()
        self.metrics.run_finished(integration.purpose.value, SyncRunStatus.SUCCEEDED.value)
        await tracker.publish(final)
        await self.queue.follow_up(finished)
        log.info("sync run %s succeeded: %s", run.id, counts)
        await self.retention.apply(
            integration_id=integration.id, current_snapshot_id=run.snapshot_id
        )
        for listener in self.on_committed:
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
        # Whatever failed (the credential deleted, the commit refused), a disconnect during
        # the run is why: a person's decision, not a failure to report.
        if (
            exc is not None
            and not failure.disconnected
            and await self.sync_leases.disconnected(integration_id=integration.id)
        ):
            failure = describe(Disconnected())
        if exc is not None and failure.endpoint is not None:
            tracker.failed_call(failure.status)
        log.warning("sync run %s failed: %s", run.id, failure.message)
        tracker.phase = Phase.FAILED.value
        await self.snapshot_data.delete_snapshot(run.snapshot_id)
        finished = await self.sync_runs.finish(
            run_id=run.id,
            fence=run.fence,
            end=RunEnd(
                SyncRunStatus.FAILED,
                tracker.progress(),
                error=failure.message,
                error_endpoint=failure.endpoint,
                not_before=failure.not_before,
                warnings=tuple(tracker.warnings),
            ),
        )
        if finished is None:  # taken over: the new lease holder already ended this run
            return replace(tracker.current(), status=SyncRunStatus.FAILED, error=failure.message)
        self.metrics.run_finished(integration.purpose.value, SyncRunStatus.FAILED.value)
        if failure.needs_reauth:
            await self.on_reauth_needed(integration, failure.message)
        await tracker.publish(finished)
        if failure.disconnected:
            return finished  # no alert, no follow-up: the integration is not to be synced
        if exc is not None:  # a failure, not the worker stopping
            try:
                await self.on_sync_failed(integration, finished)
            except Exception:
                log.exception("reporting the failure of run %s failed", run.id)
        if not failure.needs_reauth and failure.not_before is None:
            await self.queue.follow_up(finished)  # (a re-connect queues its own run)
        return finished
