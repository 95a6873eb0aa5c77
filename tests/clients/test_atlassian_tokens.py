"""Token providers: single-flight refresh, rotation persisted before use, invalidate, reload."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest

from services.atlassian.errors import InvalidGrant
from services.atlassian.models import OAuthApp, TokenSet
from services.atlassian.oauth import AtlassianOAuth
from services.atlassian.token_providers import (
    ClientCredentialsTokenProvider,
    RefreshingTokenProvider,
)
from services.confluence import paths
from services.confluence.auth import TokenProviderAuth
from services.confluence.retry import RetryPolicy

from .support import T0, FakeClock, Router, body_of, make_client

TOKEN_PATH = "/auth/oauth/token"


class TokenServer:
    """Rotating refresh tokens: rt-n → (at-n+1, rt-n+1); retired tokens get invalid_grant."""

    def __init__(self) -> None:
        self.generation = 1
        self.refreshes: list[str] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        body = body_of(request)
        if body["grant_type"] == "client_credentials":
            self.generation += 1
            return httpx.Response(
                200, json={"access_token": f"svc-{self.generation}", "expires_in": 3600}
            )
        self.refreshes.append(body["refresh_token"])
        await asyncio.sleep(0)  # let concurrent callers pile up
        if body["refresh_token"] != f"rt-{self.generation}":
            return httpx.Response(403, json={"error": "invalid_grant"})
        self.generation += 1
        n = self.generation
        return httpx.Response(
            200, json={"access_token": f"at-{n}", "refresh_token": f"rt-{n}", "expires_in": 3600}
        )


@pytest.fixture
def server(router: Router) -> TokenServer:
    server = TokenServer()
    router.add("POST", TOKEN_PATH, server)
    return server


@pytest.fixture
def oauth(http: httpx.AsyncClient, clock: FakeClock) -> AtlassianOAuth:
    return AtlassianOAuth(
        http, app=OAuthApp("client-1", "cs"), auth_base_url="http://sim/auth", clock=clock
    )


def _stored(generation: int, expires_in: timedelta) -> TokenSet:
    return TokenSet(f"at-{generation}", f"rt-{generation}", T0 + expires_in, ())


async def test_valid_token_is_used_without_refresh(
    server: TokenServer, oauth: AtlassianOAuth, clock: FakeClock
) -> None:
    provider = RefreshingTokenProvider(
        oauth, _stored(1, timedelta(hours=1)), persist=_fail, clock=clock
    )
    assert await provider.access_token() == "at-1"
    assert server.refreshes == []


async def test_single_flight_refresh_persisted_before_use(
    server: TokenServer, oauth: AtlassianOAuth, clock: FakeClock
) -> None:
    persisted: list[TokenSet] = []

    async def persist(token: TokenSet) -> None:
        await asyncio.sleep(0)
        persisted.append(token)

    provider = RefreshingTokenProvider(
        oauth, _stored(1, timedelta(seconds=30)), persist=persist, clock=clock
    )
    tokens = await asyncio.gather(*(provider.access_token() for _ in range(25)))
    assert set(tokens) == {"at-2"}
    assert server.refreshes == ["rt-1"]
    assert [t.refresh_token for t in persisted] == ["rt-2"]
    assert persisted[0].expires_at == T0 + timedelta(hours=1)


async def test_rotation_always_uses_newest_refresh_token(
    server: TokenServer, oauth: AtlassianOAuth, clock: FakeClock
) -> None:
    provider = RefreshingTokenProvider(oauth, _stored(1, timedelta(0)), persist=_ok, clock=clock)
    for _ in range(3):
        await provider.access_token()
        clock.now += timedelta(hours=2)
    assert server.refreshes == ["rt-1", "rt-2", "rt-3"]
    assert provider.current is not None and provider.current.refresh_token == "rt-4"


async def test_invalidate_forces_refresh_once(
    server: TokenServer, oauth: AtlassianOAuth, clock: FakeClock
) -> None:
    provider = RefreshingTokenProvider(
        oauth, _stored(1, timedelta(hours=1)), persist=_ok, clock=clock
    )
    await provider.invalidate("at-1")
    await provider.invalidate("at-1")
    assert await provider.access_token() == "at-2"
    await provider.invalidate("at-1")  # stale: someone already refreshed
    assert await provider.access_token() == "at-2"
    assert server.refreshes == ["rt-1"]


async def test_invalid_grant_adopts_newer_stored_token(
    server: TokenServer, oauth: AtlassianOAuth, clock: FakeClock
) -> None:
    server.generation = 2  # another worker rotated rt-1 → rt-2 and stored it
    stored = _stored(2, timedelta(hours=1))

    async def reload() -> TokenSet:
        return stored

    provider = RefreshingTokenProvider(
        oauth, _stored(1, timedelta(0)), persist=_fail, reload=reload, clock=clock
    )
    assert await provider.access_token() == "at-2"
    assert server.refreshes == ["rt-1"]


async def test_invalid_grant_refreshes_with_newer_stored_token_when_it_is_stale(
    server: TokenServer, oauth: AtlassianOAuth, clock: FakeClock
) -> None:
    server.generation = 2

    async def reload() -> TokenSet:
        return _stored(2, timedelta(0))

    provider = RefreshingTokenProvider(
        oauth, _stored(1, timedelta(0)), persist=_ok, reload=reload, clock=clock
    )
    assert await provider.access_token() == "at-3"
    assert server.refreshes == ["rt-1", "rt-2"]


async def test_invalid_grant_without_newer_token_is_raised(
    server: TokenServer, oauth: AtlassianOAuth, clock: FakeClock
) -> None:
    server.generation = 5

    async def reload() -> TokenSet:
        return _stored(1, timedelta(0))

    provider = RefreshingTokenProvider(
        oauth, _stored(1, timedelta(0)), persist=_fail, reload=reload, clock=clock
    )
    with pytest.raises(InvalidGrant):
        await provider.access_token()


async def test_no_refresh_token_means_reconnect(oauth: AtlassianOAuth, clock: FakeClock) -> None:
    token = TokenSet("at-1", None, T0, ())
    provider = RefreshingTokenProvider(oauth, token, persist=_fail, clock=clock)
    with pytest.raises(InvalidGrant, match="reconnect"):
        await provider.access_token()


async def test_client_credentials_provider(
    server: TokenServer, oauth: AtlassianOAuth, clock: FakeClock
) -> None:
    provider = ClientCredentialsTokenProvider(oauth, OAuthApp("svc", "svc-secret"), clock=clock)
    assert set(await asyncio.gather(*(provider.access_token() for _ in range(10)))) == {"svc-2"}
    clock.now += timedelta(minutes=59, seconds=30)
    assert await provider.access_token() == "svc-3"
    await provider.invalidate("svc-3")
    assert await provider.access_token() == "svc-4"


async def test_confluence_client_with_refreshing_provider(
    server: TokenServer,
    router: Router,
    http: httpx.AsyncClient,
    oauth: AtlassianOAuth,
    clock: FakeClock,
    policy: RetryPolicy,
) -> None:
    """A 401 on a token that looks valid (revoked early) triggers exactly one refresh."""
    provider = RefreshingTokenProvider(
        oauth, _stored(1, timedelta(hours=1)), persist=_ok, clock=clock
    )

    def current(request: httpx.Request) -> httpx.Response:
        if request.headers["authorization"] != "Bearer at-2":
            return httpx.Response(401, json={"message": "Unauthorized"})
        return httpx.Response(200, json={"accountId": "me"})

    router.add("GET", paths.CURRENT_USER, current)
    client = make_client(http, policy, TokenProviderAuth(provider))
    users = await asyncio.gather(*(client.current_user() for _ in range(5)))
    assert {u.account_id for u in users} == {"me"}
    assert server.refreshes == ["rt-1"]


async def _ok(token: TokenSet) -> None:
    return None


async def _fail(token: TokenSet) -> None:
    raise AssertionError("nothing should be persisted")
