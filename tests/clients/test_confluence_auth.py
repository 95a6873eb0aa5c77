"""Authentication: header shapes, token-provider renewal after 401, and no secret ever leaks."""

from __future__ import annotations

import base64
from datetime import timedelta

import httpx
import pytest

from services.atlassian.admin import AdminClient
from services.atlassian.models import OAuthApp, TokenSet
from services.atlassian.oauth import AtlassianOAuth
from services.atlassian.token_providers import ClientCredentialsTokenProvider
from services.confluence import paths
from services.confluence.auth import (
    BasicAuth,
    BearerAuth,
    ConfluenceAuth,
    NoAuth,
    TokenProvider,
    TokenProviderAuth,
    secrets_in,
)
from services.confluence.client import ConfluenceClient
from services.confluence.errors import (
    ConfluenceAuthError,
    ConfluenceConnectionError,
    ConfluenceError,
    ConfluenceScopeError,
)
from services.confluence.retry import RetryPolicy

from .support import T0, Router, make_client

SECRETS = ("tok-SECRET-1", "at-SECRET-2", "rt-SECRET-3", "cs-SECRET-4", "key-SECRET-5")


class FakeProvider:
    """Hands out at-1, at-2, … ; invalidate() of the current token moves to the next."""

    def __init__(self) -> None:
        self.generation = 1
        self.invalidated: list[str] = []

    async def access_token(self) -> str:
        return f"at-{self.generation}"

    async def invalidate(self, token: str) -> None:
        self.invalidated.append(token)
        if token == f"at-{self.generation}":
            self.generation += 1


def test_protocols_are_satisfied() -> None:
    for auth in (
        NoAuth(),
        BasicAuth("a@b", "t"),
        BearerAuth("t"),
        TokenProviderAuth(FakeProvider()),
    ):
        assert isinstance(auth, ConfluenceAuth)
    assert isinstance(FakeProvider(), TokenProvider)


async def test_basic_auth_header() -> None:
    headers = await BasicAuth("ops@acme.test", "tok-SECRET-1").headers()
    scheme, _, value = headers["Authorization"].partition(" ")
    assert scheme == "Basic"
    assert base64.b64decode(value).decode() == "ops@acme.test:tok-SECRET-1"


async def test_bearer_auth_header() -> None:
    assert await BearerAuth("at-SECRET-2").headers() == {"Authorization": "Bearer at-SECRET-2"}


def test_secrets_in_headers() -> None:
    basic = "Basic " + base64.b64encode(b"ops@acme.test:tok-SECRET-1").decode()
    assert "tok-SECRET-1" in secrets_in({"Authorization": basic})
    assert secrets_in({"authorization": "Bearer at-SECRET-2"}) == ["at-SECRET-2"]
    assert secrets_in({}) == []


def test_reprs_are_redacted(http: httpx.AsyncClient, policy: RetryPolicy) -> None:
    oauth = AtlassianOAuth(http, app=OAuthApp("client-1", "cs-SECRET-4"))
    token = TokenSet("at-SECRET-2", "rt-SECRET-3", T0, ("read:confluence-user",))
    objects: list[object] = [
        BasicAuth("ops@acme.test", "tok-SECRET-1"),
        BearerAuth("at-SECRET-2"),
        TokenProviderAuth(FakeProvider()),
        OAuthApp("client-1", "cs-SECRET-4"),
        token,
        oauth,
        ClientCredentialsTokenProvider(oauth, OAuthApp("svc", "cs-SECRET-4")),
        AdminClient(http, "key-SECRET-5", policy),
        make_client(http, policy),
    ]
    for obj in objects:
        text = repr(obj) + str(obj)
        assert not any(secret in text for secret in SECRETS), text
    assert "ops@acme.test" in repr(objects[0])
    assert "client-1" in repr(objects[3])
    assert "read:confluence-user" in repr(token)


async def test_provider_token_is_renewed_once_after_401(
    router: Router, http: httpx.AsyncClient, policy: RetryPolicy
) -> None:
    provider = FakeProvider()
    client = make_client(http, policy, TokenProviderAuth(provider))

    def current(request: httpx.Request) -> httpx.Response:
        if request.headers["authorization"] == "Bearer at-1":
            return httpx.Response(401, json={"code": 401, "message": "Unauthorized"})
        return httpx.Response(200, json={"accountId": "me"})

    router.add("GET", paths.CURRENT_USER, current)
    assert (await client.current_user()).account_id == "me"
    assert provider.invalidated == ["at-1"]
    assert [r.headers["authorization"] for r in router.requests] == ["Bearer at-1", "Bearer at-2"]


async def test_second_401_is_final(
    router: Router, http: httpx.AsyncClient, policy: RetryPolicy
) -> None:
    provider = FakeProvider()
    client = make_client(http, policy, TokenProviderAuth(provider))
    router.json("GET", paths.CURRENT_USER, {"message": "Unauthorized"}, status=401)
    with pytest.raises(ConfluenceAuthError):
        await client.current_user()
    assert len(router.requests) == 2
    assert provider.invalidated == ["at-1"]


async def test_scope_401_does_not_invalidate(
    router: Router, http: httpx.AsyncClient, policy: RetryPolicy
) -> None:
    provider = FakeProvider()
    client = make_client(http, policy, TokenProviderAuth(provider))
    router.json(
        "GET",
        paths.CURRENT_USER,
        {"code": 401, "message": "Unauthorized; scope does not match"},
        status=401,
    )
    with pytest.raises(ConfluenceScopeError):
        await client.current_user()
    assert provider.invalidated == []
    assert len(router.requests) == 1


async def test_static_credentials_are_not_retried_on_401(
    router: Router, client: ConfluenceClient
) -> None:
    router.json("GET", paths.CURRENT_USER, {"message": "Unauthorized"}, status=401)
    with pytest.raises(ConfluenceAuthError):
        await client.current_user()
    assert len(router.requests) == 1


@pytest.mark.parametrize("auth_kind", ["basic", "bearer"])
async def test_server_echoing_the_credential_never_leaks_it(
    router: Router, http: httpx.AsyncClient, policy: RetryPolicy, auth_kind: str
) -> None:
    auth: ConfluenceAuth = (
        BasicAuth("ops@acme.test", "tok-SECRET-1")
        if auth_kind == "basic"
        else BearerAuth("tok-SECRET-1")
    )
    client = make_client(http, policy, auth)

    def echo(request: httpx.Request) -> httpx.Response:
        header = request.headers["authorization"]
        return httpx.Response(401, text=f"bad credential {header} (tok-SECRET-1)")

    router.add("GET", paths.CURRENT_USER, echo)
    with pytest.raises(ConfluenceError) as caught:
        await client.current_user()
    _assert_no_secret(caught.value, "tok-SECRET-1")
    header = (await auth.headers())["Authorization"].partition(" ")[2]
    _assert_no_secret(caught.value, header)


async def test_transport_error_messages_are_scrubbed(
    router: Router, http: httpx.AsyncClient, policy: RetryPolicy
) -> None:
    client = make_client(http, policy, BearerAuth("at-SECRET-2"))

    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("proxy refused Bearer at-SECRET-2")

    router.add("GET", paths.CURRENT_USER, fail)
    with pytest.raises(ConfluenceConnectionError) as caught:
        await client.current_user()
    _assert_no_secret(caught.value, "at-SECRET-2")


def _assert_no_secret(error: BaseException, secret: str) -> None:
    assert secret not in str(error)
    assert secret not in repr(error)
    assert all(secret not in str(arg) for arg in error.args)


def test_token_set_expiry() -> None:
    token = TokenSet("a", None, T0 + timedelta(minutes=10), ())
    assert not token.is_expired(T0)
    assert token.is_expired(T0 + timedelta(minutes=9, seconds=30))
    assert token.is_expired(T0 + timedelta(minutes=9), leeway=timedelta(minutes=2))
