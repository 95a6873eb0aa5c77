"""OAuth 3LO access tokens for an integration, refreshed once across all processes.

Atlassian rotates refresh tokens: each refresh retires the old one, and replaying a retired
one after a short window revokes the whole grant. So a refresh must happen at most once per
integration at a time, *across processes*, and the new pair must be stored before use:

1. callers in this process queue on one asyncio lock per integration (``RefreshLocks``);
2. the lock holder re-reads the stored credential (someone may have refreshed already);
3. if still expired it takes the credential's refresh lock in MongoDB (compare-and-set
   with an expiry, so a crashed holder cannot block forever); a process that loses waits
   for the stored version to change and uses the winner's tokens;
4. the winner refreshes, stores the rotated pair with a compare-and-swap on the version of
   the OAuth label only (writing the admin key, another label, does not make it lose), and
   releases. A lost swap means someone else wrote the tokens meanwhile (a re-connect, or a
   refresher that took over an expired lock): the stored tokens are re-read and used when
   usable; otherwise ours are stored against the new version (a few tries, under the lock).

On ``invalid_grant`` the stored credential is re-read first (another process may have
rotated); only when it still holds the refused token is the integration marked NEEDS_REAUTH.
Every other credential problem raises ``CredentialUnavailable`` with a message for people,
which ends a sync run with that message (never "internal error").

An access token is renewed ``TokenSet.leeway`` before it expires: 60 s, or a quarter of its
lifetime for tokens living less than four minutes.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from services.atlassian.errors import InvalidGrant
from services.atlassian.models import TokenSet
from services.atlassian.oauth import AtlassianOAuth
from services.clock import Clock, Sleep, utcnow
from services.integrations.models import Integration
from services.integrations.vault import OAUTH_TOKENS, CredentialVault, Secret

log = logging.getLogger(__name__)

OnReauthNeeded = Callable[[Integration, str], Awaitable[None]]

LOCK_TTL = timedelta(seconds=30)
SWAP_ATTEMPTS = 3
REAUTH_MESSAGE = "Atlassian no longer accepts Vigil's authorization: reconnect Confluence."
REFRESH_TIMEOUT_MESSAGE = (
    "Another Vigil process was refreshing the Confluence access token and did not finish "
    "in time; the next sync will try again."
)
SWAP_LOST_MESSAGE = (
    "The stored Confluence tokens kept changing while Vigil refreshed them (a re-connect "
    "or another Vigil process); the next sync will try again."
)


class ReauthRequired(Exception):
    """The integration's grant is gone; a person must reconnect Confluence."""


class CredentialUnavailable(Exception):
    """The stored credential could not be used now; ``str()`` is a message for people."""


def tokens_to_secret(tokens: TokenSet) -> dict[str, Any]:
    """The stored (then encrypted) form of a token set."""
    return {
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "expires_at": tokens.expires_at.isoformat(),
        "issued_at": tokens.issued_at.isoformat() if tokens.issued_at else None,
        "scopes": list(tokens.scopes),
    }


def secret_to_tokens(values: Mapping[str, Any]) -> TokenSet:
    """A token set from its stored form."""
    issued = values.get("issued_at")
    return TokenSet(
        access_token=str(values["access_token"]),
        refresh_token=values.get("refresh_token"),
        expires_at=datetime.fromisoformat(str(values["expires_at"])),
        scopes=tuple(values.get("scopes") or ()),
        issued_at=datetime.fromisoformat(str(issued)) if issued else None,
    )


class RefreshLocks:
    """One asyncio lock per integration, shared by every provider of this process."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}

    def for_integration(self, integration_id: str) -> asyncio.Lock:
        """The lock serialising refreshes of one integration in this process."""
        return self._locks.setdefault(integration_id, asyncio.Lock())


class RefreshLockRepo(Protocol):
    """The ``CredentialRepository`` methods ``StoredOAuthTokenProvider`` calls."""

    async def acquire_refresh_lock(
        self, *, integration_id: str, owner: str, now: datetime, until: datetime
    ) -> bool: ...
    async def release_refresh_lock(self, *, integration_id: str, owner: str) -> None: ...


class StoredOAuthTokenProvider:
    """A ``TokenProvider`` over the integration's stored, encrypted 3LO tokens."""

    def __init__(
        self,
        integration: Integration,
        *,
        vault: CredentialVault,
        credentials: RefreshLockRepo,
        oauth: AtlassianOAuth,
        locks: RefreshLocks,
        on_reauth_needed: OnReauthNeeded,
        clock: Clock | None = None,
        sleep: Sleep = asyncio.sleep,
        poll_seconds: float = 0.05,
    ) -> None:
        self._integration = integration
        self._vault = vault
        self._credentials = credentials
        self._oauth = oauth
        self._lock = locks.for_integration(integration.id)
        self._on_reauth_needed = on_reauth_needed
        self._clock = clock or utcnow
        self._sleep = sleep
        self._poll = poll_seconds
        self._owner = secrets.token_hex(8)
        self._cached: TokenSet | None = None
        self._rejected: str | None = None

    def __repr__(self) -> str:
        return f"StoredOAuthTokenProvider(integration={self._integration.id!r})"

    async def access_token(self) -> str:
        """A valid access token, refreshed (once, across processes) when needed."""
        if self._cached is not None and self._usable(self._cached):
            return self._cached.access_token
        async with self._lock:
            secret = await self._load()
            tokens = secret_to_tokens(secret.values)
            if not self._usable(tokens):
                tokens = await self._refresh_exclusively(secret)
            self._cached = tokens
            return tokens.access_token

    async def invalidate(self, token: str) -> None:
        """Treat ``token`` as expired (the server refused it)."""
        self._rejected = token
        if self._cached is not None and self._cached.access_token == token:
            self._cached = None

    def _usable(self, tokens: TokenSet) -> bool:
        if tokens.access_token == self._rejected:
            return False
        return not tokens.is_expired(self._clock())

    async def _load(self) -> Secret:
        secret = await self._vault.load(
            self._integration.organization_id, self._integration.id, OAUTH_TOKENS
        )
        if secret is None:
            await self._on_reauth_needed(self._integration, REAUTH_MESSAGE)
            raise ReauthRequired(REAUTH_MESSAGE)
        return secret

    async def _refresh_exclusively(self, seen: Secret) -> TokenSet:
        deadline = self._clock() + 2 * LOCK_TTL
        while True:
            now = self._clock()
            if await self._credentials.acquire_refresh_lock(
                integration_id=self._integration.id,
                owner=self._owner,
                now=now,
                until=now + LOCK_TTL,
            ):
                try:
                    return await self._refresh_locked()
                finally:
                    await self._credentials.release_refresh_lock(
                        integration_id=self._integration.id, owner=self._owner
                    )
            await self._sleep(self._poll)
            current = await self._load()
            tokens = secret_to_tokens(current.values)
            if current.version != seen.version and self._usable(tokens):
                return tokens
            if self._clock() > deadline:
                raise CredentialUnavailable(REFRESH_TIMEOUT_MESSAGE)

    async def _refresh_locked(self) -> TokenSet:
        secret = await self._load()  # re-read under the lock: the last holder may have won
        tokens = secret_to_tokens(secret.values)
        if self._usable(tokens):
            return tokens
        if not tokens.refresh_token:
            await self._on_reauth_needed(self._integration, REAUTH_MESSAGE)
            raise ReauthRequired(REAUTH_MESSAGE)
        try:
            fresh = await self._oauth.refresh(tokens.refresh_token)
        except InvalidGrant:
            return await self._after_invalid_grant(tokens)
        if fresh.refresh_token is None:  # no rotation this time: keep the old refresh token
            fresh = replace(fresh, refresh_token=tokens.refresh_token)
        return await self._store_refreshed(fresh, secret.version)

    async def _store_refreshed(self, fresh: TokenSet, expect_version: int) -> TokenSet:
        """Store ``fresh`` (compare-and-swap on the OAuth label); after a lost swap use the
        winner's tokens when usable, else store ours against the new version."""
        for _ in range(SWAP_ATTEMPTS):
            stored = await self._vault.swap(
                self._integration.organization_id,
                self._integration.id,
                OAUTH_TOKENS,
                tokens_to_secret(fresh),
                expect_version=expect_version,
            )
            if stored is not None:
                return fresh
            current = await self._load()
            winner = secret_to_tokens(current.values)
            if self._usable(winner):
                log.info("token refresh lost its swap; using the stored tokens instead")
                return winner
            expect_version = current.version
        raise CredentialUnavailable(SWAP_LOST_MESSAGE)

    async def _after_invalid_grant(self, refused: TokenSet) -> TokenSet:
        current = secret_to_tokens((await self._load()).values)
        if current.refresh_token != refused.refresh_token and self._usable(current):
            return current
        await self._on_reauth_needed(self._integration, REAUTH_MESSAGE)
        raise ReauthRequired(REAUTH_MESSAGE)
