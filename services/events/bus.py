"""The event bus: how services tell subscribers (GraphQL subscriptions) what changed."""

from __future__ import annotations

import asyncio
import contextlib
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


class Registered:
    """A subscription that is registered on the bus already (``subscribe_now``): read the
    current state after creating it, then iterate, and no event published in between is
    missed. ``aclose`` when done."""

    def __init__(self, events: AsyncIterator[Event], first: asyncio.Future[Event]) -> None:
        self._events = events
        self._first: asyncio.Future[Event] | None = first

    def __aiter__(self) -> Registered:
        return self

    async def __anext__(self) -> Event:
        """The next event of the topic."""
        first, self._first = self._first, None
        if first is not None:
            return await first
        return await anext(self._events)

    async def aclose(self) -> None:
        """Unregister (the pending first read is cancelled)."""
        first, self._first = self._first, None
        if first is not None:
            first.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await first
        await self._events.aclose()  # type: ignore[attr-defined]


async def subscribe_now(bus: EventBus, topic: str) -> Registered:
    """Subscribe to ``topic`` and return once the subscriber is registered.

    A bus registers a subscriber when its iteration starts: the first read is started here
    and given one turn of the event loop, in which it registers and waits.
    """
    events = bus.subscribe(topic)
    first = asyncio.ensure_future(anext(events))
    await asyncio.sleep(0)
    return Registered(events, first)
