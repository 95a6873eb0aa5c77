"""Atlassian OAuth 2.0: authorize URL, code exchange, rotating refresh, client credentials, sites.

Built on plain httpx rather than authlib's ``AsyncOAuth2Client`` (authlib is not a dependency
at all: docs/decisions/007-authlib.md) because authlib does not fit here: (1) its httpx
integration is deprecated for ``httpx`` in favour of the ``httpx2`` fork, which this project
must not install (architecture.md); (2) it always form-encodes token
requests, while Atlassian documents JSON bodies; (3) its authorization URL joins scopes with
``+``, which Atlassian refuses; (4) it is its own AsyncClient, where Vigil injects one
``httpx.AsyncClient`` (the transport seam tests use). Vigil stores and verifies ``state``
itself; nothing here checks it. Token requests are never retried: a refresh consumes the
refresh token, so a blind retry could replay a retired one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from services.atlassian.errors import (
    InvalidToken,
    OAuthError,
    OAuthUnavailable,
    error_for_response,
)
from services.atlassian.models import AtlassianProfile, OAuthApp, Site, TokenSet
from services.clock import Clock, utcnow
from services.confluence import paths

DEFAULT_AUTH_BASE = "https://auth.atlassian.com"
DEFAULT_API_BASE = "https://api.atlassian.com"
AUDIENCE = "api.atlassian.com"
DEFAULT_EXPIRES_IN = 3600


def authorization_url(
    client_id: str,
    redirect_uri: str,
    scopes: Iterable[str],
    state: str,
    *,
    auth_base_url: str = DEFAULT_AUTH_BASE,
) -> str:
    """The browser URL starting 3LO consent; scopes are joined with ``%20`` (never ``+``)."""
    params = {
        "audience": AUDIENCE,
        "client_id": client_id,
        "scope": " ".join(scopes),
        "redirect_uri": redirect_uri,
        "state": state,
        "response_type": "code",
        "prompt": "consent",
    }
    query = urlencode(params, quote_via=quote, safe="")
    return f"{auth_base_url.rstrip('/')}{paths.OAUTH_AUTHORIZE}?{query}"


class AtlassianOAuth:
    """Talks to Atlassian's token and accessible-resources endpoints for one OAuth app."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        app: OAuthApp | None = None,
        auth_base_url: str = DEFAULT_AUTH_BASE,
        api_base_url: str = DEFAULT_API_BASE,
        clock: Clock = utcnow,
    ) -> None:
        self._http = http
        self._app = app
        self._token_url = auth_base_url.rstrip("/") + paths.OAUTH_TOKEN
        self._auth_base = auth_base_url.rstrip("/")
        self._resources_url = api_base_url.rstrip("/") + paths.ACCESSIBLE_RESOURCES
        self._me_url = api_base_url.rstrip("/") + paths.ME
        self._clock = clock

    def __repr__(self) -> str:
        return f"AtlassianOAuth(app={self._app!r}, auth_base_url={self._auth_base!r})"

    def authorization_url(self, redirect_uri: str, scopes: Iterable[str], state: str) -> str:
        """The consent URL for this app (see module-level ``authorization_url``)."""
        app = self._require_app()
        return authorization_url(
            app.client_id, redirect_uri, scopes, state, auth_base_url=self._auth_base
        )

    async def exchange_code(self, code: str, redirect_uri: str) -> TokenSet:
        """Exchange an authorization code for tokens."""
        app = self._require_app()
        body = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        return await self._token_request(app, body, secrets=(code,))

    async def refresh(self, refresh_token: str) -> TokenSet:
        """Refresh; the result carries the NEW refresh token (the old one is retired)."""
        body = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return await self._token_request(self._require_app(), body, secrets=(refresh_token,))

    async def client_credentials(self, client_id: str, client_secret: str) -> TokenSet:
        """An access token for a service account (no refresh token)."""
        app = OAuthApp(client_id, client_secret)
        return await self._token_request(app, {"grant_type": "client_credentials"})

    async def accessible_resources(self, access_token: str) -> list[Site]:
        """The sites the token can reach (possibly several)."""
        data = await self._get_json(self._resources_url, access_token, "accessible-resources")
        if not isinstance(data, list):
            raise OAuthError("accessible-resources: expected a JSON list")
        return [_site(item) for item in data if isinstance(item, dict) and item.get("id")]

    async def me(self, access_token: str) -> AtlassianProfile:
        """The profile of the person the token acts for (scope ``read:me``)."""
        data = await self._get_json(self._me_url, access_token, "/me")
        if not isinstance(data, dict) or not isinstance(data.get("account_id"), str):
            raise OAuthError("/me: expected an object with account_id")
        email, name = data.get("email"), data.get("name")
        verified = data.get("email_verified")
        return AtlassianProfile(
            account_id=data["account_id"],
            email=email if isinstance(email, str) and email else None,
            name=name if isinstance(name, str) and name else data["account_id"],
            account_status=_opt_str(data.get("account_status")),
            account_type=_opt_str(data.get("account_type")),
            email_verified=verified if isinstance(verified, bool) else None,
        )

    async def _get_json(self, url: str, access_token: str, what: str) -> Any:
        """The JSON body of a GET with ``access_token``; ``InvalidToken`` when refused."""
        headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}
        response = await self._send("GET", url, headers=headers)
        if response.status_code == 401:
            raise InvalidToken(f"access token refused by {what}", status=401)
        if response.status_code >= 400:
            raise error_for_response(response.status_code, response.content, (access_token,))
        return _json(response)

    async def _token_request(
        self, app: OAuthApp, body: dict[str, str], secrets: tuple[str, ...] = ()
    ) -> TokenSet:
        payload = {**body, "client_id": app.client_id, "client_secret": app.client_secret}
        response = await self._send(
            "POST", self._token_url, json=payload, headers={"Accept": "application/json"}
        )
        if response.status_code >= 400:
            all_secrets = (*secrets, app.client_secret)
            raise error_for_response(response.status_code, response.content, all_secrets)
        return self._token_set(_json(response))

    async def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self._http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise OAuthUnavailable(f"OAuth server unreachable: {type(exc).__name__}") from exc

    def _token_set(self, data: object) -> TokenSet:
        if not isinstance(data, dict) or not isinstance(data.get("access_token"), str):
            raise OAuthError("token response without access_token")
        expires_in = data.get("expires_in")
        seconds = expires_in if isinstance(expires_in, int | float) else DEFAULT_EXPIRES_IN
        refresh = data.get("refresh_token")
        scope = data.get("scope")
        now = self._clock()
        return TokenSet(
            access_token=data["access_token"],
            refresh_token=refresh if isinstance(refresh, str) and refresh else None,
            expires_at=now + timedelta(seconds=seconds),
            issued_at=now,
            scopes=tuple(scope.split()) if isinstance(scope, str) else (),
            token_type=str(data.get("token_type") or "Bearer"),
        )

    def _require_app(self) -> OAuthApp:
        if self._app is None:
            raise ValueError("no OAuth app (client id and secret) configured")
        return self._app


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise OAuthUnavailable("OAuth server sent an invalid JSON body") from exc


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _site(item: dict[str, Any]) -> Site:
    scopes = item.get("scopes")
    avatar = item.get("avatarUrl")
    return Site(
        cloud_id=str(item["id"]),
        name=str(item.get("name") or ""),
        url=str(item.get("url") or ""),
        scopes=tuple(s for s in scopes if isinstance(s, str)) if isinstance(scopes, list) else (),
        avatar_url=avatar if isinstance(avatar, str) else None,
    )
