"""OAuth grants, codes and tokens with Atlassian's rotating refresh-token rules (no HTTP)."""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from simulator.clock import SimClock

INVALID_REFRESH = "Unknown or invalid refresh token."


@dataclass(slots=True)
class TokenPolicy:
    """Lifetimes and windows (seconds); mutable at runtime so tests can shorten them."""

    access_token_ttl: float = 3600
    code_ttl: float = 300
    reuse_window: float = 600
    refresh_idle_ttl: float = 90 * 86400
    refresh_max_ttl: float = 365 * 86400


@dataclass(slots=True)
class Grant:
    """One consent (3LO) or one client-credentials token request: a token family."""

    grant_id: str
    kind: str  # "3lo" | "client_credentials"
    client_id: str
    account_id: str
    scopes: frozenset[str]
    cloud_ids: tuple[str, ...]
    consented_at: datetime
    revoked: bool = False
    access_tokens: list[str] = field(default_factory=list)
    refresh_tokens: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Code:
    client_id: str
    redirect_uri: str
    account_id: str
    scopes: frozenset[str]
    cloud_ids: tuple[str, ...]
    expires_at: datetime
    used: bool = False


@dataclass(slots=True)
class _Refresh:
    grant_id: str
    issued_at: datetime
    retired_at: datetime | None = None


class TokenError(Exception):
    """An OAuth error response: HTTP status plus the `error`/`error_description` body."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.status = status
        self.error = error
        self.description = description


def _token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(48)


class TokenStore:
    """Issues and checks codes, access tokens and rotating refresh tokens."""

    def __init__(self, clock: SimClock, policy: TokenPolicy | None = None) -> None:
        self.clock = clock
        self.policy = policy or TokenPolicy()
        # Replays of retired refresh tokens: within the reuse window (still answered) and
        # after it (the family is revoked). A client that refreshes once per rotation has none.
        self.reuses_within_window = 0
        self.reuses_after_window = 0
        self.grants: dict[str, Grant] = {}
        self._codes: dict[str, _Code] = {}
        self._access: dict[str, tuple[str, datetime]] = {}
        self._refresh: dict[str, _Refresh] = {}
        self._lock = threading.RLock()

    def create_code(
        self,
        *,
        client_id: str,
        redirect_uri: str,
        account_id: str,
        scopes: frozenset[str],
        cloud_ids: tuple[str, ...],
    ) -> str:
        """An authorization code for an approved consent (single use, short-lived)."""
        code = _token("code-")
        expires = self.clock.now() + timedelta(seconds=self.policy.code_ttl)
        with self._lock:
            self._codes[code] = _Code(
                client_id, redirect_uri, account_id, scopes, cloud_ids, expires
            )
        return code

    def exchange_code(self, *, client_id: str, code: str, redirect_uri: str) -> dict[str, Any]:
        """authorization_code grant → token response (refresh token with offline_access)."""
        with self._lock:
            entry = self._codes.get(code)
            valid = (
                entry is not None
                and not entry.used
                and entry.expires_at > self.clock.now()
                and entry.client_id == client_id
                and entry.redirect_uri == redirect_uri
            )
            if entry is None or not valid:
                raise TokenError(403, "invalid_grant", "Invalid authorization code")
            entry.used = True
            grant = self._new_grant(
                "3lo", client_id, entry.account_id, entry.scopes, entry.cloud_ids
            )
            return self._issue(grant, refresh="offline_access" in grant.scopes)

    def client_credentials(
        self, *, client_id: str, account_id: str, scopes: frozenset[str], cloud_ids: tuple[str, ...]
    ) -> dict[str, Any]:
        """client_credentials grant → access token only."""
        with self._lock:
            grant = self._new_grant("client_credentials", client_id, account_id, scopes, cloud_ids)
            return self._issue(grant, refresh=False)

    def refresh(self, *, client_id: str, refresh_token: str) -> dict[str, Any]:
        """refresh_token grant with rotation, the reuse window and family revocation."""
        now = self.clock.now()
        with self._lock:
            entry = self._refresh.get(refresh_token)
            grant = self.grants.get(entry.grant_id) if entry else None
            if entry is None or grant is None or grant.revoked or grant.client_id != client_id:
                raise TokenError(403, "invalid_grant", INVALID_REFRESH)
            policy = self.policy
            expired = (now - entry.issued_at).total_seconds() > policy.refresh_idle_ttl or (
                now - grant.consented_at
            ).total_seconds() > policy.refresh_max_ttl
            if expired:
                raise TokenError(403, "invalid_grant", INVALID_REFRESH)
            if entry.retired_at is not None:
                if (now - entry.retired_at).total_seconds() > policy.reuse_window:
                    self.reuses_after_window += 1
                    self.revoke_grant(grant.grant_id)
                    raise TokenError(403, "invalid_grant", INVALID_REFRESH)
                self.reuses_within_window += 1
            else:
                entry.retired_at = now
            return self._issue(grant, refresh=True)

    def grant_for_access_token(self, token: str) -> Grant | None:
        """The grant behind a live access token (None if unknown, expired or revoked)."""
        with self._lock:
            found = self._access.get(token)
            if found is None:
                return None
            grant_id, expires_at = found
            grant = self.grants.get(grant_id)
            if grant is None or grant.revoked or expires_at <= self.clock.now():
                return None
            return grant

    def grant_for_refresh_token(self, token: str) -> Grant | None:
        """The grant a refresh token belongs to (whatever its state)."""
        with self._lock:
            entry = self._refresh.get(token)
            return self.grants.get(entry.grant_id) if entry else None

    def revoke_grant(self, grant_id: str) -> None:
        """Revoke every access and refresh token of the family."""
        with self._lock:
            self.grants[grant_id].revoked = True

    def issue_for_test(
        self,
        *,
        account_id: str,
        scopes: frozenset[str],
        cloud_ids: tuple[str, ...],
        client_id: str = "test-client",
        refresh: bool = True,
    ) -> dict[str, Any]:
        """Shortcut for tests: a 3LO token response without the consent dance."""
        with self._lock:
            grant = self._new_grant("3lo", client_id, account_id, scopes, cloud_ids)
            return self._issue(grant, refresh=refresh)

    def _new_grant(
        self,
        kind: str,
        client_id: str,
        account_id: str,
        scopes: frozenset[str],
        cloud_ids: tuple[str, ...],
    ) -> Grant:
        grant = Grant(
            _token("grant-")[:24], kind, client_id, account_id, scopes, cloud_ids, self.clock.now()
        )
        self.grants[grant.grant_id] = grant
        return grant

    def _issue(self, grant: Grant, *, refresh: bool) -> dict[str, Any]:
        now = self.clock.now()
        ttl = self.policy.access_token_ttl
        access = _token("eyJ")
        self._access[access] = (grant.grant_id, now + timedelta(seconds=ttl))
        grant.access_tokens.append(access)
        body: dict[str, Any] = {
            "access_token": access,
            "expires_in": int(ttl),
            "token_type": "Bearer",
            "scope": " ".join(sorted(grant.scopes)),
        }
        if refresh:
            token = _token("rt-")
            self._refresh[token] = _Refresh(grant.grant_id, now)
            grant.refresh_tokens.append(token)
            body["refresh_token"] = token
        return body
