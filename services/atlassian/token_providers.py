"""Token providers for ConfluenceClient: rotating 3LO refresh and client credentials.

Both implement ``services.confluence.auth.TokenProvider``: single-flight (one refresh at a
time per provider, concurrent callers share it) and ``invalidate`` after a 401. Cross-process
exclusion (one refresh per integration across workers) is the caller's lease, not this.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta

from services.atlassian.errors import InvalidGrant
from services.atlassian.models import DEFAULT_LEEWAY, OAuthApp, TokenSet
from services.atlassian.oauth import AtlassianOAuth
from services.confluence.retry import Clock, utcnow

PersistToken = Callable[[TokenSet], Awaitable[None]]
LoadToken = Callable[[], Awaitable[TokenSet]]


class _CachedToken:
    """Single-flight cache of one TokenSet; subclasses say how to get a new one."""

    def __init__(self, token: TokenSet | None, clock: Clock, leeway: timedelta) -> None:
        self._token = token
        self._clock = clock
        self._leeway = leeway
        self._rejected: str | None = None
        self._lock = asyncio.Lock()

    async def access_token(self) -> str:
        """A valid access token, renewed first when expired or rejected."""
        if (token := self._token) is not None and self._usable(token):
            return token.access_token
        async with self._lock:
            if self._token is None or not self._usable(self._token):
                self._token = await self._renew(self._token)
            return self._token.access_token

    async def invalidate(self, token: str) -> None:
        """Mark ``token`` rejected if it is still current (a no-op once someone renewed)."""
        if self._token is not None and self._token.access_token == token:
            self._rejected = token

    def _usable(self, token: TokenSet) -> bool:
        rejected = token.access_token == self._rejected
        return not rejected and not token.is_expired(self._clock(), self._leeway)

    async def _renew(self, current: TokenSet | None) -> TokenSet:
        raise NotImplementedError


class RefreshingTokenProvider(_CachedToken):
    """3LO tokens; each refresh's NEW refresh token is persisted before the access token is used.

    ``persist`` stores the new token set (it must succeed, or the rotation is lost).
    ``reload`` (optional) reads the stored token set: on ``invalid_grant`` another process
    may already have rotated, so a newer stored refresh token is adopted instead of failing.
    """

    def __init__(
        self,
        oauth: AtlassianOAuth,
        token: TokenSet,
        *,
        persist: PersistToken,
        reload: LoadToken | None = None,
        clock: Clock = utcnow,
        leeway: timedelta = DEFAULT_LEEWAY,
    ) -> None:
        super().__init__(token, clock, leeway)
        self._oauth = oauth
        self._persist = persist
        self._reload = reload

    def __repr__(self) -> str:
        return f"RefreshingTokenProvider(token={self._token!r})"

    @property
    def current(self) -> TokenSet | None:
        """The token set in use (for tests and diagnostics)."""
        return self._token

    async def _renew(self, current: TokenSet | None) -> TokenSet:
        if current is None or current.refresh_token is None:
            raise InvalidGrant("no refresh token: reconnect", error="invalid_grant")
        try:
            fresh = await self._oauth.refresh(current.refresh_token)
        except InvalidGrant:
            stored = await self._reload() if self._reload else None
            if stored is None or stored.refresh_token == current.refresh_token:
                raise
            return stored if self._usable(stored) else await self._renew(stored)
        if fresh.refresh_token is None:  # no rotation this time: keep the old refresh token
            fresh = replace(fresh, refresh_token=current.refresh_token)
        await self._persist(fresh)
        return fresh


class ClientCredentialsTokenProvider(_CachedToken):
    """Service-account tokens: a new one from the client-credentials grant when expired."""

    def __init__(
        self,
        oauth: AtlassianOAuth,
        app: OAuthApp,
        *,
        clock: Clock = utcnow,
        leeway: timedelta = DEFAULT_LEEWAY,
    ) -> None:
        super().__init__(None, clock, leeway)
        self._oauth = oauth
        self._app = app

    def __repr__(self) -> str:
        return f"ClientCredentialsTokenProvider(app={self._app!r})"

    async def _renew(self, current: TokenSet | None) -> TokenSet:
        return await self._oauth.client_credentials(self._app.client_id, self._app.client_secret)
