"""Token providers, through the production path: ``StoredOAuthTokenProvider`` over encrypted
tokens in a store (single-flight refresh, rotation stored before use, invalidate, the
``invalid_grant`` re-read, per-label compare-and-swap, the lifetime-aware leeway), and the
client-credentials provider."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
import pytest

from services.atlassian.models import OAuthApp, TokenSet, leeway_for
from services.atlassian.oauth import AtlassianOAuth
from services.atlassian.token_providers import ClientCredentialsTokenProvider
from services.confluence import paths
from services.confluence.auth import TokenProviderAuth
from services.confluence.retry import RetryPolicy
from services.integrations.tokens import (
    CredentialUnavailable,
    ReauthRequired,
    tokens_to_secret,
)
from services.integrations.vault import ADMIN_API_KEY

from .support import T0, FakeClock, Router, StoredTokens, body_of, make_client, stored_tokens

TOKEN_PATH = "/auth/oauth/token"
Hook = Callable[[], Awaitable[None]]


class TokenServer:
    """Rotating refresh tokens: rt-n → (at-n+1, rt-n+1); retired tokens get invalid_grant.

    ``during_refresh`` runs while a refresh request is in flight (another writer acting)."""

    def __init__(self) -> None:
        self.generation = 1
        self.expires_in = 3600
        self.refreshes: list[str] = []
        self.during_refresh: Hook | None = None

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        body = body_of(request)
        if body["grant_type"] == "client_credentials":
            self.generation += 1
            return httpx.Response(
                200, json={"access_token": f"svc-{self.generation}", "expires_in": 3600}
            )
        self.refreshes.append(body["refresh_token"])
        await asyncio.sleep(0)  # let concurrent callers pile up
        if self.during_refresh is not None:
            hook, self.during_refresh = self.during_refresh, None
            await hook()
        if body["refresh_token"] != f"rt-{self.generation}":
            return httpx.Response(403, json={"error": "invalid_grant"})
        self.generation += 1
        n = self.generation
        return httpx.Response(
            200,
            json={
                "access_token": f"at-{n}",
                "refresh_token": f"rt-{n}",
                "expires_in": self.expires_in,
            },
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


def _tokens(generation: int, expires_in: timedelta, lifetime: timedelta | None = None) -> TokenSet:
    expires_at = T0 + expires_in
    issued_at = expires_at - lifetime if lifetime is not None else None
    return TokenSet(f"at-{generation}", f"rt-{generation}", expires_at, (), issued_at=issued_at)


async def test_valid_token_is_used_without_refresh(
    server: TokenServer, oauth: AtlassianOAuth, clock: FakeClock
) -> None:
    stored = await stored_tokens(_tokens(1, timedelta(hours=1)))
    assert await stored.provider(oauth, clock).access_token() == "at-1"
    assert server.refreshes == []


async def test_single_flight_refresh_stored_before_use(
    server: TokenServer, oauth: AtlassianOAuth, clock: FakeClock
) -> None:
    stored = await stored_tokens(_tokens(1, timedelta(seconds=30)))
    provider = stored.provider(oauth, clock)
    tokens = await asyncio.gather(*(provider.access_token() for _ in range(25)))
    assert set(tokens) == {"at-2"}
    assert server.refreshes == ["rt-1"]
    saved = await stored.load()
    assert saved["refresh_token"] == "rt-2"
    assert saved["expires_at"] == (T0 + timedelta(hours=1)).isoformat()


async def test_providers_sharing_a_store_refresh_once(
    server: TokenServer, oauth: AtlassianOAuth, clock: FakeClock
) -> None:
    """Two providers (two runs, or two processes: separate in-process locks) on one credential."""
    stored = await stored_tokens(_tokens(1, timedelta(0)))
    first, second = stored.provider(oauth, clock), stored.provider(oauth, clock)
    tokens = await asyncio.gather(*(p.access_token() for _ in range(10) for p in (first, second)))
    assert set(tokens) == {"at-2"}
    assert server.refreshes == ["rt-1"]


async def test_rotation_always_uses_newest_refresh_token(
    server: TokenServer, oauth: AtlassianOAuth, clock: FakeClock
) -> None:
    stored = await stored_tokens(_tokens(1, timedelta(0)))
    provider = stored.provider(oauth, clock)
    for _ in range(3):
        await provider.access_token()
        clock.now += timedelta(hours=2)
    assert server.refreshes == ["rt-1", "rt-2", "rt-3"]
    assert (await stored.load())["refresh_token"] == "rt-4"


async def test_invalidate_forces_refresh_once(
    server: TokenServer, oauth: AtlassianOAuth, clock: FakeClock
) -> None:
    stored = await stored_tokens(_tokens(1, timedelta(hours=1)))
    provider = stored.provider(oauth, clock)
    await provider.invalidate("at-1")
    await provider.invalidate("at-1")
    assert await provider.access_token() == "at-2"
    assert await provider.access_token() == "at-2"
    assert server.refreshes == ["rt-1"]


async def test_invalid_grant_adopts_the_token_another_process_stored(
    server: TokenServer, oauth: AtlassianOAuth, clock: FakeClock
) -> None:
    """Another process rotated rt-1 → rt-2 (and stored it) while our refresh was in flight:
    Atlassian refuses rt-1; the stored credential is re-read and the newer tokens used."""
    stored = await stored_tokens(_tokens(1, timedelta(0)))

    async def other_process_rotates() -> None:
        server.generation = 2
        await stored.write("oauth_tokens", tokens_to_secret(_tokens(2, timedelta(hours=1))))

    server.during_refresh = other_process_rotates
    assert await stored.provider(oauth, clock).access_token() == "at-2"
    assert server.refreshes == ["rt-1"]
    assert stored.reauth == []


async def test_invalid_grant_with_the_refused_token_still_stored_needs_reauth(
    server: TokenServer, oauth: AtlassianOAuth, clock: FakeClock
) -> None:
    server.generation = 5  # rt-1 was retired long ago: the grant is gone
    stored = await stored_tokens(_tokens(1, timedelta(0)))
    with pytest.raises(ReauthRequired, match="reconnect Confluence"):
        await stored.provider(oauth, clock).access_token()
    assert len(stored.reauth) == 1


async def test_no_refresh_token_needs_reauth(oauth: AtlassianOAuth, clock: FakeClock) -> None:
    stored = await stored_tokens(TokenSet("at-1", None, T0, ()))
    with pytest.raises(ReauthRequired, match="reconnect"):
        await stored.provider(oauth, clock).access_token()
    assert len(stored.reauth) == 1


async def test_writing_the_admin_key_during_a_refresh_does_not_fail_it(
    server: TokenServer, oauth: AtlassianOAuth, clock: FakeClock
) -> None:
    """Defect 2: the admin key (another label of the same credential) written while the OAuth
    refresh is in flight made the refresh's compare-and-swap fail, and the run with it."""
    stored = await stored_tokens(_tokens(1, timedelta(0)))

    async def admin_key_written() -> None:
        await stored.write(ADMIN_API_KEY, {"api_key": "admin-key"})

    server.during_refresh = admin_key_written
    assert await stored.provider(oauth, clock).access_token() == "at-2"
    assert (await stored.load())["refresh_token"] == "rt-2"  # the rotation was not lost
    assert (await stored.load(ADMIN_API_KEY))["api_key"] == "admin-key"


@pytest.mark.parametrize(
    ("winner", "used"),
    [
        pytest.param(_tokens(9, timedelta(hours=1)), 9, id="a re-connect: the winner's tokens"),
        pytest.param(_tokens(1, timedelta(0)), 2, id="an unusable winner: ours are stored"),
    ],
)
async def test_a_lost_swap(
    server: TokenServer, oauth: AtlassianOAuth, clock: FakeClock, winner: TokenSet, used: int
) -> None:
    """Someone stored other OAuth tokens while our refresh was in flight: usable ones (a
    re-connect) are used, expired ones are replaced by those of our refresh."""
    stored = await stored_tokens(_tokens(1, timedelta(0)))

    async def written_meanwhile() -> None:
        await stored.write("oauth_tokens", tokens_to_secret(winner))

    server.during_refresh = written_meanwhile
    assert await stored.provider(oauth, clock).access_token() == f"at-{used}"
    assert (await stored.load())["refresh_token"] == f"rt-{used}"


async def test_swaps_lost_again_and_again_end_with_a_clear_error(
    server: TokenServer, oauth: AtlassianOAuth, clock: FakeClock
) -> None:
    stored = await stored_tokens(_tokens(1, timedelta(0)))
    original_swap = stored.vault.swap

    async def always_lost(*args: object, **kwargs: object) -> int | None:
        await stored.write("oauth_tokens", tokens_to_secret(_tokens(1, timedelta(0))))
        return None

    stored.vault.swap = always_lost  # type: ignore[method-assign]
    try:
        with pytest.raises(CredentialUnavailable, match="kept changing"):
            await stored.provider(oauth, clock).access_token()
    finally:
        stored.vault.swap = original_swap  # type: ignore[method-assign]
    assert stored.reauth == []


def test_leeway_is_the_smaller_of_a_minute_and_a_quarter_of_the_lifetime() -> None:
    assert leeway_for(timedelta(hours=1)) == timedelta(seconds=60)
    assert leeway_for(timedelta(seconds=20)) == timedelta(seconds=5)
    assert leeway_for(None) == timedelta(seconds=60)


async def test_short_lived_tokens_are_not_refreshed_before_every_request(
    server: TokenServer, oauth: AtlassianOAuth, clock: FakeClock
) -> None:
    """Defect 2: a token living less than the 60-s leeway looked expired when issued."""
    server.expires_in = 20
    stored = await stored_tokens(_tokens(1, timedelta(seconds=20), lifetime=timedelta(seconds=20)))
    provider = stored.provider(oauth, clock)
    for _ in range(3):
        assert await provider.access_token() == "at-1"
        clock.now += timedelta(seconds=4)
    assert server.refreshes == []
    clock.now = T0 + timedelta(seconds=16)  # within a quarter of the lifetime of expiry
    assert await provider.access_token() == "at-2"
    for _ in range(3):
        clock.now += timedelta(seconds=3)
        assert await provider.access_token() == "at-2"
    assert server.refreshes == ["rt-1"]
    assert (await stored.load())["issued_at"] == (T0 + timedelta(seconds=16)).isoformat()


async def test_client_credentials_provider(
    server: TokenServer, oauth: AtlassianOAuth, clock: FakeClock
) -> None:
    provider = ClientCredentialsTokenProvider(oauth, OAuthApp("svc", "svc-secret"), clock=clock)
    assert set(await asyncio.gather(*(provider.access_token() for _ in range(10)))) == {"svc-2"}
    clock.now += timedelta(minutes=59, seconds=30)
    assert await provider.access_token() == "svc-3"
    await provider.invalidate("svc-3")
    assert await provider.access_token() == "svc-4"


async def test_confluence_client_with_stored_provider(
    server: TokenServer,
    router: Router,
    http: httpx.AsyncClient,
    oauth: AtlassianOAuth,
    clock: FakeClock,
    policy: RetryPolicy,
) -> None:
    """A 401 on a token that looks valid (revoked early) triggers exactly one refresh."""
    stored: StoredTokens = await stored_tokens(_tokens(1, timedelta(hours=1)))

    def current(request: httpx.Request) -> httpx.Response:
        if request.headers["authorization"] != "Bearer at-2":
            return httpx.Response(401, json={"message": "Unauthorized"})
        return httpx.Response(200, json={"accountId": "me"})

    router.add("GET", paths.CURRENT_USER, current)
    client = make_client(http, policy, TokenProviderAuth(stored.provider(oauth, clock)))
    users = await asyncio.gather(*(client.current_user() for _ in range(5)))
    assert {u.account_id for u in users} == {"me"}
    assert server.refreshes == ["rt-1"]
