"""OAuth errors, mapped from token-endpoint responses and network failures.

::

    OAuthError                 any other OAuth failure (error code and HTTP status when known)
    ├── InvalidGrant           invalid_grant: code or refresh token unknown, used, revoked, expired
    ├── InvalidClient          access_denied / invalid_client: wrong client id or secret, or the
    │                          user declined
    ├── InvalidToken           an access token refused (401) by accessible-resources
    └── OAuthUnavailable       network error, timeout, 429 or 5xx: try again later

Messages hold the error code and Atlassian's description, never a token, code or secret.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from services.confluence.errors import scrub


class OAuthError(Exception):
    """An OAuth request failed."""

    def __init__(self, message: str, *, error: str | None = None, status: int | None = None):
        super().__init__(message)
        self.error = error
        self.status = status


class InvalidGrant(OAuthError):
    """The authorization code or refresh token is not (or no longer) valid."""


class InvalidClient(OAuthError):
    """The client credentials were refused, or access was denied."""


class InvalidToken(OAuthError):
    """The access token was refused."""


class OAuthUnavailable(OAuthError):
    """The OAuth server could not be reached or failed; retry later."""


_BY_CODE: dict[str, type[OAuthError]] = {
    "invalid_grant": InvalidGrant,
    "access_denied": InvalidClient,
    "invalid_client": InvalidClient,
    "unauthorized_client": InvalidClient,
}


def error_for_response(status: int, body: bytes, secrets: Iterable[str] = ()) -> OAuthError:
    """Map a failed token-endpoint response to the OAuthError subclass it means."""
    code, description = _parse(body)
    message = f"OAuth token request failed with HTTP {status}"
    if code:
        message += f": {code}" + (f" ({description})" if description else "")
    message = scrub(message, secrets)
    if status == 429 or status >= 500:
        return OAuthUnavailable(message, error=code, status=status)
    return _BY_CODE.get(code or "", OAuthError)(message, error=code, status=status)


def _parse(body: bytes) -> tuple[str | None, str | None]:
    try:
        data: Any = json.loads(body)
    except ValueError:
        return None, None
    if not isinstance(data, dict):
        return None, None
    code, description = data.get("error"), data.get("error_description")
    return (
        code if isinstance(code, str) else None,
        description[:200] if isinstance(description, str) else None,
    )
