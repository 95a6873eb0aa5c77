"""How requests are authenticated: API token (Basic), fixed bearer, or a token provider."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Protocol, runtime_checkable

_AUTHORIZATION = "Authorization"


@runtime_checkable
class ConfluenceAuth(Protocol):
    """Authenticates requests to Confluence.

    Contract:
    - ``headers()`` is awaited before *every* attempt (retries included), so a credential
      refreshed meanwhile is picked up; it returns the headers to add (usually Authorization).
    - ``on_unauthorized(sent)`` is awaited at most once per call when the server answers a
      plain 401 (never for a "scope does not match" 401), with the headers that were sent.
      Return True when the credential was renewed and one more attempt may succeed.
    - Neither method may log or raise with the credential in the message.
    """

    async def headers(self) -> dict[str, str]:
        """Headers authenticating the next attempt."""
        ...

    async def on_unauthorized(self, sent: Mapping[str, str]) -> bool:
        """React to a 401 for a request sent with ``sent``; True means "try once more"."""
        ...


@runtime_checkable
class TokenProvider(Protocol):
    """Supplies OAuth access tokens (3LO with refresh, or client credentials).

    Contract:
    - ``access_token()`` returns a currently valid token, refreshing it first when it is
      expired or was invalidated; concurrent callers share one refresh (single flight).
    - ``invalidate(token)`` marks ``token`` as rejected by the server so the next
      ``access_token()`` refreshes; invalidating a token that is no longer current is a no-op
      (another caller already refreshed).
    """

    async def access_token(self) -> str:
        """A valid access token."""
        ...

    async def invalidate(self, token: str) -> None:
        """Force a refresh if ``token`` is still the current one."""
        ...


class NoAuth:
    """No credential (unauthenticated endpoints such as tenant_info)."""

    async def headers(self) -> dict[str, str]:
        """No headers."""
        return {}

    async def on_unauthorized(self, sent: Mapping[str, str]) -> bool:
        """Nothing to renew."""
        return False

    def __repr__(self) -> str:
        return "NoAuth()"


class BasicAuth:
    """Classic API token: Basic ``email:api_token`` against ``https://{site}.atlassian.net``."""

    __slots__ = ("_header", "email")

    def __init__(self, email: str, api_token: str) -> None:
        self.email = email
        raw = f"{email}:{api_token}".encode()
        self._header = "Basic " + base64.b64encode(raw).decode("ascii")

    async def headers(self) -> dict[str, str]:
        """The Basic Authorization header."""
        return {_AUTHORIZATION: self._header}

    async def on_unauthorized(self, sent: Mapping[str, str]) -> bool:
        """An API token cannot be renewed."""
        return False

    def __repr__(self) -> str:
        return f"BasicAuth(email={self.email!r}, api_token='***')"


class BearerAuth:
    """A fixed bearer token (e.g. an Admin API key or a short-lived access token)."""

    __slots__ = ("_token",)

    def __init__(self, token: str) -> None:
        self._token = token

    async def headers(self) -> dict[str, str]:
        """The Bearer Authorization header."""
        return {_AUTHORIZATION: f"Bearer {self._token}"}

    async def on_unauthorized(self, sent: Mapping[str, str]) -> bool:
        """A fixed token cannot be renewed."""
        return False

    def __repr__(self) -> str:
        return "BearerAuth(token='***')"


class TokenProviderAuth:
    """Bearer tokens from a TokenProvider; after a 401 the token is invalidated and retried once."""

    __slots__ = ("_provider",)

    def __init__(self, provider: TokenProvider) -> None:
        self._provider = provider

    async def headers(self) -> dict[str, str]:
        """The Bearer header with the provider's current token."""
        return {_AUTHORIZATION: f"Bearer {await self._provider.access_token()}"}

    async def on_unauthorized(self, sent: Mapping[str, str]) -> bool:
        """Invalidate the token that was refused so the retry uses a fresh one."""
        scheme, _, token = _authorization(sent).partition(" ")
        if scheme.lower() != "bearer" or not token:
            return False
        await self._provider.invalidate(token)
        return True

    def __repr__(self) -> str:
        return f"TokenProviderAuth(provider={type(self._provider).__name__})"


def secrets_in(headers: Mapping[str, str]) -> list[str]:
    """Every credential fragment in ``headers`` that must never appear in a message."""
    scheme, _, value = _authorization(headers).partition(" ")
    if not value:
        return []
    found = [value]
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return found
        found.append(decoded.partition(":")[2])
    return [s for s in found if s]


def _authorization(headers: Mapping[str, str]) -> str:
    for name, value in headers.items():
        if name.lower() == "authorization":
            return value
    return ""
