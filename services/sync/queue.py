"""The one owner of a sync run's start: created, queued, claimed, handed out (ADR 003).

- ``submit`` (the mutations through ``SyncService``, and the scheduler for a due
  integration): the integration gets a QUEUED run unless it has an active one (one active
  run per integration is a unique index). With ``follow_up``, a RUNNING run, which may have
  read the integration before the change, is asked for one follow-up run (requests coalesce
  into one); a QUEUED run has not read it yet and is returned as is.
- ``claim`` (a worker, through ``SyncRunner.execute``): take the integration's lease and
  announce its fencing token; fail a run left RUNNING by a worker whose lease expired and
  queue its replacement; mark the QUEUED run RUNNING under the fence; then read the
  integration, once: after the claim, so a change made before it is seen by this run and a
  change made after it finds the run RUNNING and asks for a follow-up.
- ``follow_up`` (the runner, when a run ends): queue the follow-up run it was asked for.
- ``submit_targeted`` (the change watch): a QUEUED TARGETED run for what events named, or
  the queued run joined — a TARGETED one takes the targets, a FULL one (which reads after
  the events anyway) the watch mark; nothing while a run is RUNNING, which may have read
  before the events (the watch submits again when it has ended).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from services.errors import Conflict
from services.events import EventBus, topic_for
from services.integrations.models import Integration, IntegrationStatus
from services.sync.events import run_event
from services.sync.lease import LeaseTiming
from services.sync.models import (
    Lease,
    RunEnd,
    RunRequest,
    RunTargets,
    SyncRun,
    SyncRunKind,
    SyncRunStatus,
    SyncTrigger,
    WatchMark,
)
from services.sync.progress import SYNC_CHANNEL, NullSyncMetrics, SyncMetrics
from services.sync.retention import SnapshotDeleter

log = logging.getLogger(__name__)

STALE_RUN = "the worker running this sync stopped responding (its lease expired)"
NOT_CONNECTED = "the integration is not connected"
# A submit retries when the active run ended between two of its calls; each retry means
# another run finished meanwhile, so three attempts fail only under three such endings.
SUBMIT_ATTEMPTS = 3


class ClaimOptions(LeaseTiming, Protocol):
    """Who claims, for how long, and what time it is (the runner's ``RunnerOptions``)."""

    @property
    def owner(self) -> str:
        """This worker's name, recorded on the lease and the run."""
        ...


class QueueIntegrationsRepo(Protocol):
    """The ``IntegrationRepository`` method ``RunQueue`` calls."""

    async def get_by_id(self, *, integration_id: str) -> Integration | None: ...


class RunEndRepo(Protocol):
    """The ``SyncRunRepository`` method that ends a run (the queue's and the runner's)."""

    async def finish(self, *, run_id: str, fence: int | None, end: RunEnd) -> SyncRun | None: ...


class QueueRunsRepo(RunEndRepo, Protocol):
    """The ``SyncRunRepository`` methods ``RunQueue`` calls."""

    async def create(self, request: RunRequest) -> SyncRun | None: ...
    async def get_active(self, *, integration_id: str) -> SyncRun | None: ...
    async def request_follow_up(
        self, *, integration_id: str, trigger: SyncTrigger
    ) -> SyncRun | None: ...
    async def claim(self, *, run_id: str, owner: str, fence: int) -> SyncRun | None: ...
    async def make_full(self, *, run_id: str, trigger: SyncTrigger) -> SyncRun | None: ...


class TargetedRunsRepo(QueueRunsRepo, Protocol):
    """The ``SyncRunRepository`` methods ``RunQueue.submit_targeted`` calls besides."""

    async def add_targets(
        self, *, run_id: str, targets: RunTargets, watch: WatchMark | None
    ) -> SyncRun | None: ...
    async def attach_watch(self, *, run_id: str, watch: WatchMark) -> SyncRun | None: ...


class QueueLeasesRepo(Protocol):
    """The ``LeaseRepository`` methods ``RunQueue`` calls."""

    async def acquire(
        self, *, integration_id: str, owner: str, ttl: timedelta, now: datetime
    ) -> Lease | None: ...
    async def announce_fence(self, *, integration_id: str, token: int) -> None: ...
    async def set_run(self, *, integration_id: str, token: int, run_id: str) -> bool: ...
    async def release(self, *, integration_id: str, token: int) -> None: ...


@dataclass(frozen=True, slots=True)
class Claim:
    """A run this worker executes: RUNNING under ``lease`` (fenced by its token), with the
    integration as read after the claim."""

    integration: Integration
    run: SyncRun
    lease: Lease


@dataclass(eq=False, repr=False)
class RunQueue:
    """Creates, queues and claims sync runs: the only writer of new runs."""

    bus: EventBus
    options: ClaimOptions
    _: KW_ONLY
    integrations: QueueIntegrationsRepo
    sync_runs: TargetedRunsRepo
    sync_leases: QueueLeasesRepo
    snapshot_data: SnapshotDeleter
    metrics: SyncMetrics = field(default_factory=NullSyncMetrics)

    async def submit(
        self, integration: Integration, trigger: SyncTrigger, *, follow_up: bool = False
    ) -> SyncRun:
        """The integration's new QUEUED run, or its active one (see the module docstring)."""
        for _ in range(SUBMIT_ATTEMPTS):
            run = await self._new_or_active(
                RunRequest(
                    integration.organization_id, integration.id, integration.purpose, trigger
                )
            )
            if run is not None and run.kind is SyncRunKind.TARGETED:
                # A full sync was asked for: the queued refresh becomes one (it was to read
                # less); one already running is followed by one.
                if run.status is SyncRunStatus.QUEUED:
                    run = await self.sync_runs.make_full(run_id=run.id, trigger=trigger) or run
                if run.status is SyncRunStatus.QUEUED and run.kind is SyncRunKind.TARGETED:
                    run = await self.sync_runs.get_active(integration_id=integration.id)
                if run is not None and run.status is SyncRunStatus.RUNNING:
                    run = await self.sync_runs.request_follow_up(
                        integration_id=integration.id, trigger=trigger
                    )
                if run is not None:
                    return run
                continue
            if run is not None and follow_up and run.status is SyncRunStatus.RUNNING:
                run = await self.sync_runs.request_follow_up(
                    integration_id=integration.id, trigger=trigger
                )
            if run is not None:
                return run
        raise Conflict("could not queue a sync run; try again", code="SYNC_BUSY")

    async def submit_targeted(
        self, integration: Integration, targets: RunTargets, watch: WatchMark
    ) -> SyncRun | None:
        """Refresh ``targets`` and then commit ``watch`` (the change watch's position): a new
        QUEUED TARGETED run (a FULL one when there is no snapshot to refresh yet), or the
        queued run joined; None while a run is RUNNING (see the module docstring)."""
        kind = SyncRunKind.TARGETED if integration.current_snapshot_id else SyncRunKind.FULL
        for _ in range(SUBMIT_ATTEMPTS):
            created = await self.sync_runs.create(
                RunRequest(
                    integration.organization_id,
                    integration.id,
                    integration.purpose,
                    SyncTrigger.EVENTS,
                    kind=kind,
                    targets=targets,
                    watch=watch,
                )
            )
            if created is not None:
                return created
            active = await self.sync_runs.get_active(integration_id=integration.id)
            if active is None:
                continue  # it ended between our two calls
            if active.status is SyncRunStatus.RUNNING:
                return None
            if active.kind is SyncRunKind.TARGETED:
                joined = await self.sync_runs.add_targets(
                    run_id=active.id, targets=targets, watch=watch
                )
            else:
                joined = await self.sync_runs.attach_watch(run_id=active.id, watch=watch)
            if joined is not None:
                return joined
        raise Conflict("could not queue a sync run; try again", code="SYNC_BUSY")

    async def follow_up(self, finished: SyncRun | None) -> SyncRun | None:
        """Queue the follow-up run asked for while ``finished`` ran (the scheduler that ran it
        starts it next; any worker's tick otherwise)."""
        if finished is None or finished.follow_up is None:
            return None
        queued = await self._new_or_active(
            RunRequest(
                finished.organization_id,
                finished.integration_id,
                finished.purpose,
                finished.follow_up,
            )
        )
        log.info("follow-up run %s queued after %s", queued.id if queued else "-", finished.id)
        return queued

    @contextlib.asynccontextmanager
    async def claim(self, integration_id: str) -> AsyncIterator[Claim | None]:
        """The integration's run to execute here, under its lease until the block ends; None
        when another worker holds the lease or there is nothing to run."""
        lease = await self.sync_leases.acquire(
            integration_id=integration_id,
            owner=self.options.owner,
            ttl=self.options.lease_ttl,
            now=self.options.clock(),
        )
        if lease is None:
            yield None
            return
        try:
            await self.sync_leases.announce_fence(integration_id=integration_id, token=lease.token)
            yield await self._claim(integration_id, lease)
        finally:
            await self.sync_leases.release(integration_id=integration_id, token=lease.token)

    async def _claim(self, integration_id: str, lease: Lease) -> Claim | None:
        active = await self.sync_runs.get_active(integration_id=integration_id)
        if active is not None and active.status is SyncRunStatus.RUNNING:
            active = await self._take_over(active)  # we hold the lease: its holder lost it
        if active is None:
            return None
        run = await self.sync_runs.claim(
            run_id=active.id, owner=self.options.owner, fence=lease.token
        )
        if run is None:
            return None
        # The run's one read of the integration, now that the run is RUNNING.
        integration = await self.integrations.get_by_id(integration_id=integration_id)
        if integration is None or integration.status is not IntegrationStatus.CONNECTED:
            await self._fail(run, NOT_CONNECTED)
            return None
        await self.sync_leases.set_run(
            integration_id=integration_id, token=lease.token, run_id=run.id
        )
        return Claim(integration, run, lease)

    async def _take_over(self, stale: SyncRun) -> SyncRun | None:
        """Fail a run whose worker lost its lease and delete its partial data; queue its
        replacement (same trigger) if the integration can still sync.

        Read after our announce, the integration is final as far as that worker goes: if it
        committed just before the announce (ADR 003), its complete snapshot is current and
        is kept.
        """
        log.warning("sync run %s was abandoned by %s; marking it failed", stale.id, stale.owner)
        integration = await self.integrations.get_by_id(integration_id=stale.integration_id)
        if integration is None or integration.current_snapshot_id != stale.snapshot_id:
            await self.snapshot_data.delete_snapshot(stale.snapshot_id)
        await self._fail(stale, STALE_RUN)
        if integration is None or integration.status is not IntegrationStatus.CONNECTED:
            return None
        # The same work again: a TARGETED run keeps its targets, and any run the change
        # watch's position it was to commit.
        return await self._new_or_active(
            RunRequest(
                stale.organization_id,
                stale.integration_id,
                stale.purpose,
                stale.trigger,
                kind=stale.kind,
                targets=stale.targets,
                watch=stale.watch,
            )
        )

    async def _new_or_active(self, request: RunRequest) -> SyncRun | None:
        """A new QUEUED run, else the active one (None if it ended between our two calls)."""
        created = await self.sync_runs.create(request)
        return created or await self.sync_runs.get_active(integration_id=request.integration_id)

    async def _fail(self, run: SyncRun, message: str) -> None:
        finished = await self.sync_runs.finish(
            run_id=run.id,
            fence=run.fence,
            end=RunEnd(SyncRunStatus.FAILED, run.progress, error=message),
        )
        if finished is not None:
            self.metrics.run_finished(run.purpose.value, SyncRunStatus.FAILED.value)
            topic = topic_for(finished.organization_id, SYNC_CHANNEL)
            await self.bus.publish(topic, run_event(finished))
