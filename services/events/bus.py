"""The event bus: how services tell subscribers (GraphQL subscriptions) what changed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol

log = logging.getLogger(__name__)

Event = dict[str, Any]


def topic_for(organization_id: str, channel: str) -> str:
    """Topics are always scoped to one organization: ``org:<id>:<channel>``."""
    return f"org:{organization_id}:{channel}"


class EventBus(Protocol):
    """Contract of every bus backend.

    - ``publish`` never blocks on a slow subscriber and never raises because of one.
    - ``subscribe`` yields the events published to ``topic`` after the subscriber is
      registered (registration happens when iteration starts), in publication order.
    - Each subscriber has a bounded buffer; when it is full the oldest event is dropped
      and counted, so one stuck client cannot grow memory.
    - A subscriber is unregistered in ``finally`` when its iteration ends or is
      cancelled; ``CancelledError`` is never swallowed.
    """

    async def publish(self, topic: str, event: Mapping[str, Any]) -> None:
        """Deliver ``event`` to every current subscriber of ``topic``."""

    def subscribe(self, topic: str) -> AsyncIterator[Event]:
        """Iterate over the events of ``topic`` until the caller stops."""

    def subscriber_count(self, topic: str | None = None) -> int:
        """How many subscribers there are (to one topic, or in all)."""


class InMemoryEventBus:
    """A single-process bus: one bounded queue per subscriber."""

    def __init__(self, max_queue: int = 1000) -> None:
        self._max_queue = max_queue
        self._subscribers: dict[str, set[asyncio.Queue[Event]]] = {}
        self.dropped = 0

    async def publish(self, topic: str, event: Mapping[str, Any]) -> None:
        """Deliver ``event`` to every current subscriber of ``topic``."""
        for queue in list(self._subscribers.get(topic, ())):
            if queue.full():
                queue.get_nowait()
                self.dropped += 1
                log.warning("event subscriber lagging on %s: dropped oldest event", topic)
            queue.put_nowait(dict(event))

    async def subscribe(self, topic: str) -> AsyncIterator[Event]:
        """Iterate over the events of ``topic`` until the caller stops."""
        queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=self._max_queue)
        self._subscribers.setdefault(topic, set()).add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            subscribers = self._subscribers.get(topic)
            if subscribers is not None:
                subscribers.discard(queue)
                if not subscribers:
                    del self._subscribers[topic]

    def subscriber_count(self, topic: str | None = None) -> int:
        """How many subscribers there are (to one topic, or in all)."""
        if topic is not None:
            return len(self._subscribers.get(topic, ()))
        return sum(len(s) for s in self._subscribers.values())
