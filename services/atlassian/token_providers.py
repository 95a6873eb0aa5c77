"""The client-credentials token provider for ConfluenceClient.

It implements ``services.confluence.auth.TokenProvider``: single-flight (one token request
at a time, concurrent callers share it) and ``invalidate`` after a 401. Rotating 3LO tokens
are ``services.integrations.tokens.StoredOAuthTokenProvider`` (stored, cross-process).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

from services.atlassian.models import OAuthApp, TokenSet
from services.atlassian.oauth import AtlassianOAuth
from services.clock import Clock, utcnow


@dataclass(eq=False, repr=False)
class _CachedToken:
    """Single-flight cache of one TokenSet; subclasses say how to get a new one."""

    token: TokenSet | None
    clock: Clock
    leeway: timedelta | None
    _rejected: str | None = field(init=False, default=None)
    _lock: asyncio.Lock = field(init=False, default_factory=asyncio.Lock)

    async def access_token(self) -> str:
        """A valid access token, renewed first when expired or rejected."""
        if (token := self.token) is not None and self._usable(token):
            return token.access_token
        async with self._lock:
            if self.token is None or not self._usable(self.token):
                self.token = await self._renew(self.token)
            return self.token.access_token

    async def invalidate(self, token: str) -> None:
        """Mark ``token`` rejected if it is still current (a no-op once someone renewed)."""
        if self.token is not None and self.token.access_token == token:
            self._rejected = token

    def _usable(self, token: TokenSet) -> bool:
        rejected = token.access_token == self._rejected
        return not rejected and not token.is_expired(self.clock(), self.leeway)

    async def _renew(self, current: TokenSet | None) -> TokenSet:
        raise NotImplementedError


class ClientCredentialsTokenProvider(_CachedToken):
    """Service-account tokens: a new one from the client-credentials grant when expired."""

    def __init__(
        self,
        oauth: AtlassianOAuth,
        app: OAuthApp,
        *,
        clock: Clock = utcnow,
        leeway: timedelta | None = None,
    ) -> None:
        super().__init__(None, clock, leeway)
        self._oauth = oauth
        self._app = app

    def __repr__(self) -> str:
        return f"ClientCredentialsTokenProvider(app={self._app!r})"

    async def _renew(self, current: TokenSet | None) -> TokenSet:
        return await self._oauth.client_credentials(self._app.client_id, self._app.client_secret)
