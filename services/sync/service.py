"""Sync runs as the API sees them: trigger, history, live progress, the first sync."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Callable
from dataclasses import KW_ONLY, dataclass
from datetime import datetime
from functools import partial
from typing import Protocol

from services.api_keys import require_role
from services.errors import Conflict, NotFound
from services.events import EventBus, topic_for
from services.integrations.models import Integration, IntegrationStatus
from services.models import Principal, Role
from services.paging import (
    Slice,
    time_slice,
)
from services.sync.events import run_from_event
from services.sync.models import SyncRun, SyncRunStatus, SyncTrigger
from services.sync.progress import SYNC_CHANNEL
from services.sync.queue import RunQueue

log = logging.getLogger(__name__)

Dispatch = Callable[[str], object]
_RANK = {
    SyncRunStatus.QUEUED: 0,
    SyncRunStatus.RUNNING: 1,
    SyncRunStatus.SUCCEEDED: 2,
    SyncRunStatus.FAILED: 2,
}


class IntegrationsRepo(Protocol):
    """The ``IntegrationRepository`` methods ``SyncService`` calls."""

    async def get(self, *, organization_id: str, integration_id: str) -> Integration | None: ...


class SyncRunsRepo(Protocol):
    """The ``SyncRunRepository`` methods ``SyncService`` calls."""

    async def get(self, *, run_id: str) -> SyncRun | None: ...
    async def latest(self, *, integration_id: str) -> SyncRun | None: ...
    async def list_by_integration(
        self, *, integration_id: str, limit: int, before: tuple[datetime, str] | None = None
    ) -> tuple[list[SyncRun], int]: ...


@dataclass(eq=False, repr=False)
class SyncService:
    """Submits runs to the queue (and starts them here when this process has a worker, else
    a worker's tick picks them up); reads the history and follows progress."""

    bus: EventBus
    queue: RunQueue
    _: KW_ONLY
    sync_runs: SyncRunsRepo
    integrations: IntegrationsRepo
    dispatch: Dispatch | None = None
    poll_interval: float = 2.0

    async def trigger(self, principal: Principal, integration_id: str) -> SyncRun:
        """Start a run now (ADMIN). When one is running, return it and queue one follow-up
        run that starts after it (repeated calls coalesce into that one)."""
        require_role(principal, Role.ADMIN)
        integration = await self._integration(principal, integration_id, "integrationId")
        if integration.status is not IntegrationStatus.CONNECTED:
            raise Conflict(
                f"the integration is {integration.status.value}, not CONNECTED: "
                "connect (or reconnect) Confluence before syncing",
                field=["integrationId"],
                code="NOT_CONNECTED",
            )
        return await self.enqueue(integration, SyncTrigger.MANUAL, follow_up=True)

    async def request_initial_sync(self, integration: Integration) -> None:
        """Queue the first sync of a freshly CONNECTED integration (the connect flow's hook;
        after a re-connect during a run, a follow-up of that run)."""
        run = await self.enqueue(integration, SyncTrigger.INITIAL, follow_up=True)
        log.info("initial sync %s queued for %s", run.id, integration.id)

    async def collection_changed(self, integration: Integration) -> None:
        """Something a sync collects changed (the admin key): sync now, or after the run."""
        if integration.status is not IntegrationStatus.CONNECTED:
            return
        run = await self.enqueue(integration, SyncTrigger.MANUAL, follow_up=True)
        log.info("sync %s (or a follow-up) queued for %s", run.id, integration.id)

    async def enqueue(
        self, integration: Integration, trigger: SyncTrigger, *, follow_up: bool = False
    ) -> SyncRun:
        """Submit a run to the queue (``RunQueue.submit``) and start it if this process can."""
        run = await self.queue.submit(integration, trigger, follow_up=follow_up)
        if run.status is SyncRunStatus.QUEUED and self.dispatch is not None:
            self.dispatch(integration.id)
        return run

    async def list_runs(
        self, principal: Principal, integration_id: str, first: int | None, after: str | None
    ) -> Slice[SyncRun]:
        """The integration's runs, newest first."""
        await self._integration(principal, integration_id, "integrationId")
        runs = partial(self.sync_runs.list_by_integration, integration_id=integration_id)
        return await time_slice(runs, first, after, key=lambda r: (r.created_at, r.id))

    async def latest_run(self, principal: Principal, integration_id: str) -> SyncRun | None:
        """The integration's most recent run (for ``Integration.latestSyncRun``)."""
        await self._integration(principal, integration_id, "id")
        return await self.sync_runs.latest(integration_id=integration_id)

    async def get_run(self, principal: Principal, run_id: str) -> SyncRun | None:
        """One run of the caller's organization, or None."""
        run = await self.sync_runs.get(run_id=run_id)
        if run is None or run.organization_id != principal.organization_id:
            return None
        return run

    async def watch(
        self, principal: Principal, integration_id: str
    ) -> AsyncGenerator[SyncRun, None]:
        """Every progress step and end of the integration's runs, from now on."""
        follow = self.follow(principal, integration_id, send_current=False)
        try:
            async for run, _ in follow:
                yield run
        finally:
            await follow.aclose()

    async def follow(
        self, principal: Principal, integration_id: str, *, send_current: bool = True
    ) -> AsyncGenerator[tuple[SyncRun, bool], None]:
        """The latest run as it is now (flagged True, once), then every newer state.

        Bus events carry each page's progress; when the bus is quiet for ``poll_interval``
        the latest run is read from the store, so runs of another process are seen too.
        Only states newer than the last one seen are yielded: a run that had already
        finished at subscription is never reported again as if it had just finished.
        """
        await self._integration(principal, integration_id, "integrationId")
        topic = topic_for(principal.organization_id, SYNC_CHANNEL)
        events = self.bus.subscribe(topic)
        pending: asyncio.Future[dict[str, object]] | None = None
        last: tuple[datetime, int, int, int] | None = None
        try:
            pending = asyncio.ensure_future(anext(events))  # subscribed before reading
            await asyncio.sleep(0)
            current = await self.sync_runs.latest(integration_id=integration_id)
            if current is not None:
                last = _order(current)
                if send_current:
                    yield current, True
            while True:
                if pending is None:
                    pending = asyncio.ensure_future(anext(events))
                done, _ = await asyncio.wait({pending}, timeout=self.poll_interval)
                run: SyncRun | None
                if done:
                    event, pending = pending.result(), None
                    if event.get("integration_id") != integration_id:
                        continue
                    run = run_from_event(event)
                else:
                    run = await self.sync_runs.latest(integration_id=integration_id)
                if run is not None and (last is None or _order(run) > last):
                    last = _order(run)
                    yield run, False
        finally:
            if pending is not None:
                pending.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                    await pending
            await events.aclose()  # type: ignore[attr-defined]

    async def _integration(
        self, principal: Principal, integration_id: str, field: str
    ) -> Integration:
        integration = await self.integrations.get(
            organization_id=principal.organization_id, integration_id=integration_id
        )
        if integration is None:
            raise NotFound(f"integration {integration_id} not found", field=[field])
        return integration


def _order(run: SyncRun) -> tuple[datetime, int, int, int]:
    """Progress only moves forward: later runs, later states, more requests, more items."""
    p = run.progress
    return (run.created_at, _RANK[run.status], p.requests_made, p.items_fetched)
