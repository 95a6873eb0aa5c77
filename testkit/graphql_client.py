"""GraphQL over HTTP and WebSocket with the ``gql`` client: the path a frontend takes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from gql import Client, GraphQLRequest
from gql.transport.httpx import HTTPXAsyncTransport
from gql.transport.websockets import WebsocketsTransport

from testkit.conditions import until
from testkit.live import LiveServer

# A bound for a broken server, never the expected wait (gql's default is 10 s, httpx's 5 s).
# The server under test runs in the test's own event loop, beside its store driver and any
# earlier test's leftovers: with the whole suite running on a loaded machine, one request
# can take longer than those defaults without anything being wrong.
TIMEOUT = 60.0


async def gql_http(
    url: str,
    key: str,
    query: str,
    variables: dict[str, Any] | None = None,
    timeout: float | None = None,
) -> Any:
    """Run one query or mutation over HTTP POST and return ``data`` (``timeout`` in seconds
    replaces ``TIMEOUT`` for a query whose work is known to be large)."""
    limit = TIMEOUT if timeout is None else timeout
    headers = {"Authorization": f"Bearer {key}"}
    transport = HTTPXAsyncTransport(url=url, headers=headers, timeout=limit)
    async with Client(
        transport=transport, fetch_schema_from_transport=False, execute_timeout=limit
    ) as session:
        return await session.execute(GraphQLRequest(query, variable_values=variables))


@asynccontextmanager
async def gql_ws(url: str, key: str | None) -> AsyncIterator[Any]:
    """A ``graphql-transport-ws`` session authenticated in ``connection_init``."""
    payload = {"authorization": f"Bearer {key}"} if key is not None else {}
    transport = WebsocketsTransport(
        url=url,
        init_payload=payload,
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )
    async with Client(
        transport=transport, fetch_schema_from_transport=False, execute_timeout=TIMEOUT
    ) as session:
        yield session


@asynccontextmanager
async def listening(
    live: LiveServer,
    key: str,
    request: GraphQLRequest,
    topic: str,
    on_event: Callable[[dict[str, Any]], Awaitable[None]],
    *,
    interval: float = 0.01,
) -> AsyncIterator[None]:
    """``request`` subscribed over WebSocket in a task of its own, every event handed to
    ``on_event``, for the length of the block. The block starts once the server listens on
    the bus for ``topic`` (what it pushes from then on arrives); a subscription that ended
    before raises its error here."""
    bus = live.container.bus
    before = bus.subscriber_count(topic)

    async def pump() -> None:
        async with gql_ws(live.ws_url, key) as session:
            async for event in session.subscribe(request):
                await on_event(event)

    task = asyncio.create_task(pump())
    try:
        await until(
            lambda: bus.subscriber_count(topic) > before or task.done(),
            what=f"a subscriber of {topic} on the bus",
            interval=interval,
        )
        if task.done():
            task.result()
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


class Received:
    """The messages of one subscription as they arrive (``add`` them from ``listening``'s
    ``on_event``); a subclass waits on ``_new`` for the next one."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self._new = asyncio.Condition()

    async def add(self, message: dict[str, Any]) -> None:
        """Keep ``message`` and wake whoever waits for one."""
        async with self._new:
            self.received.append(message)
            self._new.notify_all()

    async def nth(self, n: int, timeout: float = 10) -> dict[str, Any]:
        """Message ``n`` (from 0), once it has arrived."""
        async with asyncio.timeout(timeout), self._new:
            await self._new.wait_for(lambda: len(self.received) > n)
            return self.received[n]


def failing_items(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The items of a ``failingItems { edges { node { … } } }`` page of a check result."""
    return [edge["node"] for edge in result["failingItems"]["edges"]]
