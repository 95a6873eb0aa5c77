"""Atlassian OAuth helper: authorize URL, token grants, errors, accessible resources."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from services.atlassian.errors import (
    InvalidClient,
    InvalidGrant,
    InvalidToken,
    OAuthError,
    OAuthUnavailable,
)
from services.atlassian.models import OAuthApp
from services.atlassian.oauth import AtlassianOAuth, authorization_url

from .support import T0, FakeClock, Router, body_of

AUTH = "http://127.0.0.1:8765/auth"
API = "http://127.0.0.1:8765/api"
SCOPES = ["offline_access", "read:confluence-user", "read:confluence-groups"]


@pytest.fixture
def oauth(http: httpx.AsyncClient, clock: FakeClock) -> AtlassianOAuth:
    app = OAuthApp("client-1", "cs-SECRET-4")
    return AtlassianOAuth(http, app=app, auth_base_url=AUTH, api_base_url=API, clock=clock)


def _token(**extra: object) -> dict[str, object]:
    return {
        "access_token": "at-new",
        "expires_in": 3600,
        "token_type": "Bearer",
        "scope": "offline_access read:confluence-user",
        "refresh_token": "rt-new",
    } | extra


def test_authorization_url_format() -> None:
    url = authorization_url("client-1", "https://vigil.test/oauth/cb?x=1", SCOPES, "st&ate")
    assert url.startswith("https://auth.atlassian.com/authorize?")
    query = urlsplit(url).query
    assert "+" not in query
    assert "scope=offline_access%20read%3Aconfluence-user%20read%3Aconfluence-groups" in query
    assert query.split("&")[0] == "audience=api.atlassian.com"
    params = parse_qs(query)
    assert params == {
        "audience": ["api.atlassian.com"],
        "client_id": ["client-1"],
        "scope": [" ".join(SCOPES)],
        "redirect_uri": ["https://vigil.test/oauth/cb?x=1"],
        "state": ["st&ate"],
        "response_type": ["code"],
        "prompt": ["consent"],
    }


def test_authorization_url_configurable_base(oauth: AtlassianOAuth) -> None:
    url = oauth.authorization_url("http://127.0.0.1:9/cb", SCOPES, "s1")
    assert url.startswith(f"{AUTH}/authorize?audience=api.atlassian.com&client_id=client-1&")


async def test_exchange_code(router: Router, oauth: AtlassianOAuth) -> None:
    router.json("POST", "/auth/oauth/token", _token())
    token = await oauth.exchange_code("code-1", "https://vigil.test/cb")
    assert token.access_token == "at-new"
    assert token.refresh_token == "rt-new"
    assert token.expires_at == T0 + timedelta(hours=1)
    assert token.scopes == ("offline_access", "read:confluence-user")
    request = router.requests[0]
    assert request.headers["content-type"] == "application/json"
    assert body_of(request) == {
        "grant_type": "authorization_code",
        "code": "code-1",
        "redirect_uri": "https://vigil.test/cb",
        "client_id": "client-1",
        "client_secret": "cs-SECRET-4",
    }


async def test_refresh_returns_rotated_token(router: Router, oauth: AtlassianOAuth) -> None:
    router.json("POST", "/auth/oauth/token", _token(refresh_token="rt-2"))
    token = await oauth.refresh("rt-1")
    assert token.refresh_token == "rt-2"
    assert body_of(router.requests[0]) == {
        "grant_type": "refresh_token",
        "refresh_token": "rt-1",
        "client_id": "client-1",
        "client_secret": "cs-SECRET-4",
    }


async def test_client_credentials(router: Router, oauth: AtlassianOAuth) -> None:
    router.json("POST", "/auth/oauth/token", {"access_token": "svc-at", "expires_in": 3599})
    token = await oauth.client_credentials("svc-id", "svc-SECRET")
    assert token.refresh_token is None
    assert token.expires_at == T0 + timedelta(seconds=3599)
    assert body_of(router.requests[0]) == {
        "grant_type": "client_credentials",
        "client_id": "svc-id",
        "client_secret": "svc-SECRET",
    }


async def test_3lo_needs_an_app(http: httpx.AsyncClient) -> None:
    with pytest.raises(ValueError, match="OAuth app"):
        await AtlassianOAuth(http).refresh("rt")


@pytest.mark.parametrize("status", [400, 401, 403])
async def test_invalid_grant(router: Router, oauth: AtlassianOAuth, status: int) -> None:
    body = {"error": "invalid_grant", "error_description": "Unknown or invalid refresh token."}
    router.json("POST", "/auth/oauth/token", body, status=status)
    with pytest.raises(InvalidGrant) as caught:
        await oauth.refresh("rt-SECRET-3")
    assert caught.value.error == "invalid_grant"
    assert caught.value.status == status
    assert "Unknown or invalid refresh token." in str(caught.value)
    assert "rt-SECRET-3" not in str(caught.value)


@pytest.mark.parametrize("code", ["access_denied", "invalid_client", "unauthorized_client"])
async def test_invalid_client(router: Router, oauth: AtlassianOAuth, code: str) -> None:
    router.json(
        "POST",
        "/auth/oauth/token",
        {"error": code, "error_description": "Unauthorized"},
        status=401,
    )
    with pytest.raises(InvalidClient) as caught:
        await oauth.client_credentials("svc", "cs-SECRET-4")
    assert "cs-SECRET-4" not in str(caught.value)


async def test_error_description_echoing_a_secret_is_scrubbed(
    router: Router, oauth: AtlassianOAuth
) -> None:
    body = {"error": "invalid_grant", "error_description": "code code-SECRET is used"}
    router.json("POST", "/auth/oauth/token", body, status=403)
    with pytest.raises(InvalidGrant) as caught:
        await oauth.exchange_code("code-SECRET", "https://vigil.test/cb")
    assert "code-SECRET" not in str(caught.value)


@pytest.mark.parametrize("status", [429, 500, 502, 503])
async def test_server_failure_is_unavailable(
    router: Router, oauth: AtlassianOAuth, status: int
) -> None:
    router.sequence("POST", "/auth/oauth/token", httpx.Response(status, text="<html>oops</html>"))
    with pytest.raises(OAuthUnavailable):
        await oauth.refresh("rt")
    assert len(router.requests) == 1  # token requests are never retried


async def test_network_failure_is_unavailable(router: Router, oauth: AtlassianOAuth) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    router.add("POST", "/auth/oauth/token", fail)
    with pytest.raises(OAuthUnavailable):
        await oauth.exchange_code("c", "https://vigil.test/cb")


async def test_other_errors_and_bodies(router: Router, oauth: AtlassianOAuth) -> None:
    router.sequence("POST", "/auth/oauth/token", httpx.Response(400, text="not json"))
    with pytest.raises(OAuthError) as caught:
        await oauth.refresh("rt")
    assert type(caught.value) is OAuthError
    router.json("POST", "/auth/oauth/token", {"token_type": "Bearer"})
    with pytest.raises(OAuthError, match="access_token"):
        await oauth.refresh("rt")


async def test_accessible_resources(router: Router, oauth: AtlassianOAuth) -> None:
    sites = [
        {"id": "c1", "name": "acme", "url": "https://acme.atlassian.net",
         "scopes": ["read:confluence-user"], "avatarUrl": "https://a/x.png"},
        {"id": "c2", "name": "beta", "url": "https://beta.atlassian.net", "scopes": []},
        {"name": "no id"},
    ]  # fmt: skip
    router.json("GET", "/api/oauth/token/accessible-resources", sites)
    found = await oauth.accessible_resources("at-SECRET-2")
    assert [(s.cloud_id, s.name, s.url, s.scopes) for s in found] == [
        ("c1", "acme", "https://acme.atlassian.net", ("read:confluence-user",)),
        ("c2", "beta", "https://beta.atlassian.net", ()),
    ]
    assert found[0].avatar_url == "https://a/x.png"
    assert router.requests[0].headers["authorization"] == "Bearer at-SECRET-2"


async def test_accessible_resources_bad_token(router: Router, oauth: AtlassianOAuth) -> None:
    router.json("GET", "/api/oauth/token/accessible-resources", {"code": 401}, status=401)
    with pytest.raises(InvalidToken) as caught:
        await oauth.accessible_resources("at-SECRET-2")
    assert "at-SECRET-2" not in str(caught.value)


async def test_accessible_resources_unexpected_shape(router: Router, oauth: AtlassianOAuth) -> None:
    router.add(
        "GET",
        "/api/oauth/token/accessible-resources",
        lambda r: httpx.Response(200, content=json.dumps({"sites": []}).encode()),
    )
    with pytest.raises(OAuthError, match="list"):
        await oauth.accessible_resources("at")
