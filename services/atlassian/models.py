"""OAuth values: the app's credentials, a token set, an accessible site. Secrets never in reprs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

DEFAULT_LEEWAY = timedelta(seconds=60)
# An access token is renewed this long before it expires: 60 s, or a quarter of its lifetime
# when it lives less than four minutes (a 20-second token would otherwise be renewed before
# every request: with a fixed 60-s leeway it is "expired" from the moment it is issued).
LEEWAY_SHARE = 4


def leeway_for(lifetime: timedelta | None) -> timedelta:
    """The renewal margin of a token living ``lifetime``: min(60 s, a quarter of it)."""
    if lifetime is None or lifetime <= timedelta(0):
        return DEFAULT_LEEWAY
    return min(DEFAULT_LEEWAY, lifetime / LEEWAY_SHARE)


@dataclass(frozen=True, slots=True)
class OAuthApp:
    """A client id and secret (the 3LO app's, or a service account's)."""

    client_id: str
    client_secret: str

    def __repr__(self) -> str:
        return f"OAuthApp(client_id={self.client_id!r}, client_secret='***')"


@dataclass(frozen=True, slots=True)
class TokenSet:
    """Tokens from the token endpoint; ``expires_at`` is absolute (from the injected clock).

    ``issued_at`` (when known) gives the token's lifetime, hence its renewal margin."""

    access_token: str
    refresh_token: str | None
    expires_at: datetime
    scopes: tuple[str, ...]
    token_type: str = "Bearer"
    issued_at: datetime | None = None

    @property
    def leeway(self) -> timedelta:
        """How long before ``expires_at`` the token is treated as expired."""
        lifetime = self.expires_at - self.issued_at if self.issued_at is not None else None
        return leeway_for(lifetime)

    def is_expired(self, now: datetime, leeway: timedelta | None = None) -> bool:
        """True when the access token expires within ``leeway`` (default: ``self.leeway``)."""
        return now + (self.leeway if leeway is None else leeway) >= self.expires_at

    def __repr__(self) -> str:
        refresh = "'***'" if self.refresh_token else "None"
        return (
            f"TokenSet(access_token='***', refresh_token={refresh}, "
            f"expires_at={self.expires_at.isoformat()!r}, scopes={self.scopes!r})"
        )


@dataclass(frozen=True, slots=True)
class Site:
    """A Confluence site the token can reach (from accessible-resources)."""

    cloud_id: str
    name: str
    url: str
    scopes: tuple[str, ...]
    avatar_url: str | None = None


@dataclass(frozen=True, slots=True)
class AtlassianProfile:
    """``GET https://api.atlassian.com/me`` (User Identity API, scope ``read:me``): the fields
    Vigil reads of the documented ``account_type``, ``account_id``, ``email``, ``name``,
    ``picture``, ``account_status``, ``nickname``, ``zoneinfo``, ``locale`` and
    ``extended_profile`` (docs/signin.md)."""

    account_id: str
    email: str | None
    name: str
    account_status: str | None
    account_type: str | None
    # Not documented: taken into account only when present (docs/signin.md).
    email_verified: bool | None = None
