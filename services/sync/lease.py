"""Keeping a lease alive while a run works, and stopping the run when the lease is lost."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from services.clock import Clock
from services.sync.models import Lease
from services.sync.progress import Disconnected, LeaseLost

T = TypeVar("T")


class LeaseTiming(Protocol):
    """How long a lease lasts and what time it is."""

    @property
    def lease_ttl(self) -> timedelta:
        """Lease duration; heartbeats come every third of it."""
        ...

    @property
    def clock(self) -> Clock:
        """The wall clock (shared by every process through the database)."""
        ...


class LeaseRenewRepo(Protocol):
    """The ``LeaseRepository`` methods ``LeaseKeeper`` calls."""

    async def renew(
        self, *, integration_id: str, token: int, ttl: timedelta, now: datetime
    ) -> bool: ...
    async def disconnected(self, *, integration_id: str) -> bool: ...


@dataclass(eq=False, repr=False)
class LeaseKeeper:
    """Heartbeats a lease every ``ttl / 3`` while a coroutine runs; each beat also looks
    whether the integration was disconnected meanwhile (the run must stop calling Atlassian:
    ``disconnectIntegration`` stops a run within a third of the lease)."""

    leases: LeaseRenewRepo
    lease: Lease
    timing: LeaseTiming

    async def guard(self, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work``; if a heartbeat finds the lease taken (or the integration
        disconnected), cancel it and raise LeaseLost (Disconnected)."""
        worker = asyncio.ensure_future(work)
        beats = asyncio.ensure_future(self._beat())
        try:
            await asyncio.wait({worker, beats}, return_when=asyncio.FIRST_COMPLETED)
            if worker.done():
                return worker.result()
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
            beats.result()  # raises LeaseLost or Disconnected
            raise LeaseLost("the lease ended without a reason")  # pragma: no cover
        finally:
            for task in (worker, beats):
                task.cancel()
            await asyncio.gather(worker, beats, return_exceptions=True)

    async def _beat(self) -> None:
        interval = self.timing.lease_ttl.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            renewed = await self.leases.renew(
                integration_id=self.lease.integration_id,
                token=self.lease.token,
                ttl=self.timing.lease_ttl,
                now=self.timing.clock(),
            )
            if not renewed:
                raise LeaseLost(
                    f"the lease on {self.lease.integration_id} was taken over by another worker"
                )
            if await self.leases.disconnected(integration_id=self.lease.integration_id):
                raise Disconnected()
