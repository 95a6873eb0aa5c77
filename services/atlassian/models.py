"""OAuth values: the app's credentials, a token set, an accessible site. Secrets never in reprs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

DEFAULT_LEEWAY = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class OAuthApp:
    """A client id and secret (the 3LO app's, or a service account's)."""

    client_id: str
    client_secret: str

    def __repr__(self) -> str:
        return f"OAuthApp(client_id={self.client_id!r}, client_secret='***')"


@dataclass(frozen=True, slots=True)
class TokenSet:
    """Tokens from the token endpoint; ``expires_at`` is absolute (from the injected clock)."""

    access_token: str
    refresh_token: str | None
    expires_at: datetime
    scopes: tuple[str, ...]
    token_type: str = "Bearer"

    def is_expired(self, now: datetime, leeway: timedelta = DEFAULT_LEEWAY) -> bool:
        """True when the access token expires within ``leeway`` of ``now``."""
        return now + leeway >= self.expires_at

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
