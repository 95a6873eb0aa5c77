"""Test support for client tests: a strict MockTransport router, a fake sleep and clock."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from services.atlassian.models import TokenSet
from services.atlassian.oauth import AtlassianOAuth
from services.confluence.auth import BasicAuth, ConfluenceAuth
from services.confluence.client import ConfluenceClient
from services.confluence.models import ResultPage
from services.confluence.retry import RetryPolicy
from services.crypto import KeyRing
from services.integrations.models import (
    AuthMethod,
    ConfluenceSite,
    Integration,
)
from services.integrations.tokens import RefreshLocks, StoredOAuthTokenProvider, tokens_to_secret
from services.integrations.vault import OAUTH_TOKENS, CredentialVault
from services.store import Store
from services.store.client import connect
from testkit.sync import integration_at

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


@dataclass
class StoredTokens:
    """An OAuth integration whose tokens live encrypted in an in-memory store (production's
    ``StoredOAuthTokenProvider`` path, without a server)."""

    store: Store
    vault: CredentialVault
    integration: Integration
    reauth: list[str] = field(default_factory=list)

    async def on_reauth_needed(self, integration: Integration, message: str) -> None:
        self.reauth.append(message)

    def provider(
        self,
        oauth: AtlassianOAuth,
        clock: Callable[[], datetime],
        locks: RefreshLocks | None = None,
    ) -> StoredOAuthTokenProvider:
        return StoredOAuthTokenProvider(
            self.integration,
            vault=self.vault,
            credentials=self.store.credentials,
            oauth=oauth,
            locks=locks or RefreshLocks(),
            on_reauth_needed=self.on_reauth_needed,
            clock=clock,
            sleep=lambda _s: asyncio.sleep(0),
        )

    async def load(self, label: str = OAUTH_TOKENS) -> dict[str, Any]:
        secret = await self.vault.load(self.integration.organization_id, self.integration.id, label)
        assert secret is not None
        return dict(secret.values)

    async def write(self, label: str, values: dict[str, Any]) -> None:
        """Another writer (a re-connect, ``setAtlassianAdminKey``, another process)."""
        await self.vault.store(
            self.integration.organization_id, self.integration.id, {label: values}
        )


async def stored_tokens(tokens: TokenSet) -> StoredTokens:
    """A fresh in-memory store holding ``tokens`` for one OAuth integration."""
    client, embedded = connect(None)
    store = Store(client, f"vigil_tokens_{uuid.uuid4().hex[:8]}", embedded=embedded)
    vault = CredentialVault(store.credentials, KeyRing(os.urandom(32)))
    integration = integration_at(
        T0,
        id="integration-1",
        organization_id="org-1",
        auth_method=AuthMethod.OAUTH,
        site=ConfluenceSite(url=BASE, cloud_id="cloud-1"),
    )
    await vault.store(
        integration.organization_id, integration.id, {OAUTH_TOKENS: tokens_to_secret(tokens)}
    )
    return StoredTokens(store, vault, integration)
