"""Declarative streams and the one pager that runs them.

A ``Stream`` says how to fetch one page given a cursor (a client method: one request, one
page, an opaque next cursor) and where each page goes (a bulk upsert). ``run_stream`` owns
the loop; ``run_streams`` runs many streams with bounded concurrency, pulling them lazily
from an iterator so that neither the streams nor their pages pile up in memory.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from services.confluence.errors import ConfluenceProtocolError
from services.confluence.models import ResultPage

T = TypeVar("T")


class PageCounter(Protocol):
    """Told about every page a stream fetched (progress)."""

    async def page(self, items: int) -> None:
        """One page of ``items`` items was fetched and stored."""


@dataclass(frozen=True, slots=True)
class Stream(Generic[T]):
    """One paginated collection: ``fetch(cursor)`` → page, ``sink(items)`` stores it."""

    endpoint: str
    fetch: Callable[[str | None], Awaitable[ResultPage[T]]]
    sink: Callable[[list[T]], Awaitable[None]]


class StreamFailed(Exception):
    """A stream's request failed for good; ``endpoint`` says which, ``__cause__`` why."""

    def __init__(self, endpoint: str, cause: BaseException) -> None:
        super().__init__(f"{endpoint}: {cause}")
        self.endpoint = endpoint
        self.cause = cause


async def run_stream(
    stream: Stream[Any], counter: PageCounter, *, slots: asyncio.Semaphore | None = None
) -> None:
    """Fetch every page of ``stream`` in order and hand each to its sink as it arrives.

    With ``slots``, each request (with its retries) holds one of them: streams that share
    ``slots`` never have more requests in flight than it allows."""
    cursor: str | None = None
    seen: set[str] = set()
    while True:
        try:
            if slots is None:
                page = await stream.fetch(cursor)
            else:
                async with slots:
                    page = await stream.fetch(cursor)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise StreamFailed(stream.endpoint, exc) from exc
        await stream.sink(page.items)
        await counter.page(len(page.items))
        cursor = page.next_cursor
        if cursor is None:
            return
        if cursor in seen:  # a server bug would otherwise make us page forever
            loop = ConfluenceProtocolError(f"{stream.endpoint}: pagination repeats a cursor")
            raise StreamFailed(stream.endpoint, loop)
        seen.add(cursor)


async def run_streams(
    streams: Iterable[Stream[Any]] | AsyncIterable[Stream[Any]],
    counter: PageCounter,
    *,
    concurrency: int,
    slots: asyncio.Semaphore | None = None,
) -> None:
    """Run ``streams`` with at most ``concurrency`` at once; the first failure cancels the rest.

    ``streams`` may be an async iterable (read by one worker at a time, in order)."""
    next_stream = _shared(streams)

    async def worker() -> None:
        # shared source: each stream is taken by exactly one worker
        while (stream := await next_stream()) is not None:
            await run_stream(stream, counter, slots=slots)

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(max(1, concurrency)):
                group.create_task(worker())
    except BaseExceptionGroup as grouped:
        raise first_error(grouped) from None


def _shared(
    streams: Iterable[Stream[Any]] | AsyncIterable[Stream[Any]],
) -> Callable[[], Awaitable[Stream[Any] | None]]:
    """The next stream of ``streams`` (None when they are exhausted), safe to call from many
    workers at once."""
    if isinstance(streams, AsyncIterable):
        source = aiter(streams)
        lock = asyncio.Lock()

        async def take_async() -> Stream[Any] | None:
            async with lock:  # an async generator cannot be advanced by two tasks at once
                return await anext(source, None)

        return take_async
    plain = iter(streams)

    async def take() -> Stream[Any] | None:
        return next(plain, None)

    return take


def first_error(grouped: BaseExceptionGroup[BaseException]) -> BaseException:
    """The exception that caused the group (a StreamFailed if any)."""
    leaves: list[BaseException] = []

    def walk(group: BaseExceptionGroup[BaseException]) -> None:
        for exc in group.exceptions:
            walk(exc) if isinstance(exc, BaseExceptionGroup) else leaves.append(exc)

    walk(grouped)
    failed = [e for e in leaves if isinstance(e, StreamFailed)]
    return (failed or leaves)[0]
