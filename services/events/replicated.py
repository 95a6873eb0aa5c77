"""An event bus shared by every process on one database (API processes and workers)."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from services.events.bus import Event, InMemoryEventBus

log = logging.getLogger(__name__)


class EventLog(Protocol):
    """Where events go to reach other processes (``services/store/events.py``)."""

    async def append(self, *, origin: str, topic: str, event: Mapping[str, Any]) -> None:
        """Record an event."""

    def follow(
        self,
    ) -> AbstractAsyncContextManager[AsyncIterator[tuple[str, str, dict[str, Any]]]]:
        """Open a follower: the events recorded from the moment it is open."""


class ReplicatedEventBus:
    """Publishes through the shared log; one follower per process fans out in memory.

    Same contract as ``EventBus``. An event published here reaches local subscribers
    through the log like everyone else's, so every process sees one order.
    """

    def __init__(self, log_: EventLog, local: InMemoryEventBus | None = None) -> None:
        self._log = log_
        self._local = local or InMemoryEventBus()
        self._origin = secrets.token_hex(6)
        self.ready = asyncio.Event()

    async def publish(self, topic: str, event: Mapping[str, Any]) -> None:
        """Record ``event``; every process's follower delivers it."""
        await self._log.append(origin=self._origin, topic=topic, event=event)

    def subscribe(self, topic: str) -> AsyncIterator[Event]:
        """Iterate over the events of ``topic`` (from any process)."""
        return self._local.subscribe(topic)

    def subscriber_count(self, topic: str | None = None) -> int:
        """Subscribers in this process."""
        return self._local.subscriber_count(topic)

    async def run(self, retry_seconds: float = 1.0) -> None:
        """Follow the log until cancelled, reconnecting after errors."""
        while True:
            try:
                async with self._log.follow() as events:
                    self.ready.set()
                    async for _origin, topic, event in events:
                        await self._local.publish(topic, event)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("event log follower failed; reconnecting")
            self.ready.clear()
            await asyncio.sleep(retry_seconds)
