"""The change watch in a worker (``Watchers``) and as the API shows it (``ChangeWatchService``).

``Watchers`` runs in every worker: every ``tick`` it looks at the CONNECTED ACCESS_REVIEW
integrations with an Admin API key and takes the watch lease of each one nobody watches
(``change_watch``: exactly one process polls an integration), then runs a ``Watcher`` for it
until the lease is lost or the integration can no longer be watched. Without a key nothing is
polled and nothing else changes: the API says why the watch is off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from services.clock import Clock, utcnow
from services.integrations.models import Integration, IntegrationStatus, Purpose
from services.tasks import cancel_and_wait
from services.watch.models import ChangeWatch, IgnoredReason, WatchReason, WatchState
from services.watch.watcher import StopWatching, WatchDeps, Watcher, WatchOptions

log = logging.getLogger(__name__)

NO_KEY = "the events stream needs an organization Admin API key (setAtlassianAdminKey)"
NOT_CONNECTED = "the integration is not connected"
DISABLED = "the change watch is turned off (VIGIL_CHANGE_WATCH)"
NO_WORKER = "no worker watches it yet (a worker takes it within seconds of starting)"


class WatchersIntegrationsRepo(Protocol):
    """The ``IntegrationRepository`` method ``Watchers`` calls."""

    async def list_connected(self) -> list[Integration]: ...


class WatchLeasesRepo(Protocol):
    """The ``WatchRepository`` methods ``Watchers`` calls."""

    async def acquire(
        self,
        *,
        integration_id: str,
        organization_id: str,
        owner: str,
        ttl: timedelta,
        now: datetime,
    ) -> int | None: ...
    async def release(self, *, integration_id: str, token: int) -> None: ...
    async def mark_off(
        self, *, integration_id: str, organization_id: str, reason: WatchReason, message: str
    ) -> None: ...


class WatchStatesRepo(Protocol):
    """The ``WatchRepository`` method ``ChangeWatchService`` calls."""

    async def get(self, *, integration_id: str) -> WatchState | None: ...


def watchable(integration: Integration) -> bool:
    """Whether the integration's events can be watched (the rest of its state decides how)."""
    return (
        integration.purpose is Purpose.ACCESS_REVIEW
        and integration.status is IntegrationStatus.CONNECTED
        and integration.has_admin_key
    )


@dataclass(eq=False, repr=False)
class Watchers:
    """The watchers of this process, one per integration whose watch lease it holds."""

    deps: WatchDeps
    options: WatchOptions
    _: KW_ONLY
    integrations: WatchersIntegrationsRepo
    leases: WatchLeasesRepo
    tick_seconds: float = 5.0
    _running: dict[str, asyncio.Task[None]] = field(init=False, default_factory=dict)

    @property
    def watching(self) -> frozenset[str]:
        """The integrations this process watches now."""
        return frozenset(i for i, t in self._running.items() if not t.done())

    async def run_forever(self) -> None:
        """Take free watches every ``tick_seconds`` until cancelled (then stop them)."""
        log.info("change watch started (poll every %.0f s)", self.options.poll_seconds)
        try:
            while True:
                try:
                    await self.tick()
                except Exception:
                    log.exception("change watch tick failed")
                await asyncio.sleep(self.tick_seconds)
        finally:
            await self.stop()

    async def tick(self) -> None:
        """Start a watcher for each watchable integration whose lease is free."""
        for integration in await self.integrations.list_connected():
            if not watchable(integration) or integration.id in self.watching:
                continue
            token = await self.leases.acquire(
                integration_id=integration.id,
                organization_id=integration.organization_id,
                owner=self.options.owner,
                ttl=self.options.lease_ttl,
                now=self.options.clock(),
            )
            if token is None:
                continue  # another process watches it
            watcher = Watcher(integration, token, self.deps, self.options)
            task = asyncio.create_task(self._watch(watcher))
            self._running[integration.id] = task
            task.add_done_callback(self._forget)

    async def stop(self) -> None:
        """Stop every watcher of this process (their leases are released)."""
        await cancel_and_wait(self._running.values())

    async def _watch(self, watcher: Watcher) -> None:
        integration = watcher.integration
        log.info("watching the events of %s", integration.id)
        try:
            while True:
                try:
                    wait = await watcher.step()
                except StopWatching:
                    raise
                except Exception:
                    log.exception("change watch of %s: a step failed", integration.id)
                    wait = self.options.poll_seconds
                await asyncio.sleep(wait)
        except StopWatching as stop:
            log.info("stopped watching %s: %s", integration.id, stop.message)
            if stop.reason is not None:
                await self.leases.mark_off(
                    integration_id=integration.id,
                    organization_id=integration.organization_id,
                    reason=stop.reason,
                    message=stop.message,
                )
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(
                    self.leases.release(integration_id=integration.id, token=watcher.token)
                )

    def _forget(self, task: asyncio.Task[None]) -> None:
        for integration_id, running in list(self._running.items()):
            if running is task:
                del self._running[integration_id]


@dataclass(eq=False, repr=False)
class ChangeWatchService:
    """The change watch of an integration as the API shows it."""

    _: KW_ONLY
    states: WatchStatesRepo
    enabled: bool = True
    clock: Clock = utcnow

    async def state(self, integration: Integration) -> ChangeWatch | None:
        """``Integration.changeWatch``: None for POLICY integrations."""
        if integration.purpose is not Purpose.ACCESS_REVIEW:
            return None
        if not self.enabled:
            return ChangeWatch(False, WatchReason.DISABLED, DISABLED)
        if not integration.has_admin_key:
            return ChangeWatch(False, WatchReason.NO_ADMIN_KEY, NO_KEY)
        if integration.status is not IntegrationStatus.CONNECTED:
            return ChangeWatch(False, WatchReason.NOT_CONNECTED, NOT_CONNECTED)
        state = await self.states.get(integration_id=integration.id)
        if state is None:
            return ChangeWatch(False, WatchReason.NO_WORKER, NO_WORKER)
        enabled = state.watching
        reason, message = state.reason, state.message
        expired = state.lease_expires_at is None or state.lease_expires_at <= self.clock()
        if enabled and (state.owner is None or expired):  # its worker stopped
            enabled, reason, message = False, WatchReason.NO_WORKER, NO_WORKER
        return ChangeWatch(
            enabled=enabled,
            reason=None if enabled else reason or WatchReason.NO_WORKER,
            message=None if enabled else message or NO_WORKER,
            last_event_at=state.last_event_at,
            last_polled_at=state.last_polled_at,
            lag_seconds=state.lag_seconds,
            events_seen=state.events_seen,
            refreshes=state.refreshes,
            ignored=_ignored(state.ignored),
            comparison=state.comparison,
        )


def _ignored(raw: Mapping[str, int]) -> dict[IgnoredReason, int]:
    return {IgnoredReason(k): v for k, v in raw.items() if k in IgnoredReason.__members__ and v}
