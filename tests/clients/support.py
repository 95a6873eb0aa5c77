"""Test support for client tests: a strict MockTransport router, a fake sleep and clock."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from services.confluence.auth import BasicAuth, ConfluenceAuth
from services.confluence.client import ConfluenceClient
from services.confluence.models import ResultPage
from services.confluence.retry import RetryPolicy

BASE = "https://acme.atlassian.net"
T0 = datetime(2026, 11, 29, 10, 15, tzinfo=UTC)

Handler = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]


class Router:
    """Routes (method, path) to handlers; any other request fails the test loudly."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Handler] = {}
        self.requests: list[httpx.Request] = []

    def add(self, method: str, path: str, handler: Handler) -> None:
        self.routes[(method, path)] = handler

    def json(self, method: str, path: str, *bodies: Any, status: int = 200) -> None:
        """Answer successive requests with the given JSON bodies (the last one repeats)."""
        queue = list(bodies)

        def handler(request: httpx.Request) -> httpx.Response:
            body = queue.pop(0) if len(queue) > 1 else queue[0]
            return httpx.Response(status, json=body)

        self.add(method, path, handler)

    def sequence(self, method: str, path: str, *responses: httpx.Response) -> None:
        """Answer successive requests with the given responses (the last one repeats)."""
        queue = list(responses)
        self.add(method, path, lambda _r: queue.pop(0) if len(queue) > 1 else queue[0])

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        handler = self.routes.get((request.method, request.url.path))
        if handler is None:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        result = handler(request)
        if not isinstance(result, httpx.Response):
            result = await result
        return result


@dataclass
class FakeSleep:
    """Records requested waits instead of sleeping; advances the fake clock."""

    clock: FakeClock
    waits: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.now += timedelta(seconds=seconds)


@dataclass
class FakeClock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now


def make_client(
    http: httpx.AsyncClient,
    policy: RetryPolicy,
    auth: ConfluenceAuth | None = None,
    **kwargs: Any,
) -> ConfluenceClient:
    return ConfluenceClient(
        http, BASE, auth or BasicAuth("ops@acme.test", "tok-SECRET-1"), policy, **kwargs
    )


def body_of(request: httpx.Request) -> Any:
    return json.loads(request.content)


async def collect(fetch: Callable[[str | None], Awaitable[ResultPage[Any]]]) -> list[Any]:
    """Every item of a paginated listing (the loop the sync pipeline owns)."""
    items: list[Any] = []
    cursor: str | None = None
    while True:
        page = await fetch(cursor)
        items.extend(page.items)
        if (cursor := page.next_cursor) is None:
            return items
