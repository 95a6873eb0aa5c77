"""Errors raised by the Confluence and Atlassian Admin clients.

::

    ConfluenceError
    ├── ConfluenceRequestError          no usable response (retryable for reads)
    │   ├── ConfluenceTimeout           also a builtin TimeoutError
    │   ├── ConfluenceConnectionError   refused, reset, dropped connection
    │   └── ConfluenceProtocolError     truncated or invalid body, unexpected shape
    └── ConfluenceStatusError           an HTTP error status (status, endpoint, message)
        ├── ConfluenceBadRequest        400
        ├── ConfluenceAuthError         401
        │   └── ConfluenceScopeError    401 "scope does not match" (refreshing will not help)
        ├── ConfluenceForbidden         403
        ├── ConfluenceNotFound          404
        ├── ConfluenceRateLimited       429 (retry_after, quota_exhausted, reset_at)
        └── ConfluenceUnavailable       5xx (retry_after when the server sent one)

Messages carry the endpoint *template* (never the query string) and a short server message
with any credential sent on the request scrubbed out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

_MAX_MESSAGE = 200


class ConfluenceError(Exception):
    """Base of every error raised by the Confluence/Atlassian clients."""


class ConfluenceRequestError(ConfluenceError):
    """The request got no usable response."""


class ConfluenceTimeout(ConfluenceRequestError, TimeoutError):
    """The request timed out."""


class ConfluenceConnectionError(ConfluenceRequestError):
    """The connection failed or was dropped."""


class ConfluenceProtocolError(ConfluenceRequestError):
    """The response body was truncated, not JSON, or not the expected shape."""


class ConfluenceStatusError(ConfluenceError):
    """The server answered with an HTTP error status."""

    def __init__(self, status: int, endpoint: str, message: str) -> None:
        self.status = status
        self.endpoint = endpoint
        self.message = message
        super().__init__(f"{endpoint} returned HTTP {status}: {message}")


class ConfluenceBadRequest(ConfluenceStatusError):
    """HTTP 400."""


class ConfluenceAuthError(ConfluenceStatusError):
    """HTTP 401: the credential is missing, invalid or expired."""


class ConfluenceScopeError(ConfluenceAuthError):
    """HTTP 401 from the gateway because the token lacks a scope."""


class ConfluenceForbidden(ConfluenceStatusError):
    """HTTP 403: missing permission or scope."""


class ConfluenceNotFound(ConfluenceStatusError):
    """HTTP 404 (also returned for content the caller cannot see)."""


class ConfluenceRateLimited(ConfluenceStatusError):
    """HTTP 429. ``until``: when requests may resume (the quota reset, else now plus the
    capped ``Retry-After``), None when the server did not say."""

    def __init__(
        self,
        status: int,
        endpoint: str,
        message: str,
        *,
        retry_after: float | None = None,
        quota_exhausted: bool = False,
        reset_at: datetime | None = None,
        until: datetime | None = None,
    ) -> None:
        super().__init__(status, endpoint, message)
        self.retry_after = retry_after
        self.quota_exhausted = quota_exhausted
        self.reset_at = reset_at
        self.until = until or reset_at


class ConfluenceUnavailable(ConfluenceStatusError):
    """HTTP 5xx."""

    def __init__(
        self, status: int, endpoint: str, message: str, *, retry_after: float | None = None
    ) -> None:
        super().__init__(status, endpoint, message)
        self.retry_after = retry_after


_SIMPLE: dict[int, type[ConfluenceStatusError]] = {
    400: ConfluenceBadRequest,
    403: ConfluenceForbidden,
    404: ConfluenceNotFound,
}


def error_from_response(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    endpoint: str,
    now: datetime,
    secrets: Iterable[str] = (),
) -> ConfluenceStatusError:
    """Build the error for a non-2xx response; ``secrets`` are scrubbed from the message."""
    message = scrub(_body_message(body), secrets) or f"HTTP {status}"
    if status == 401:
        scope = "scope does not match" in message.lower()
        return (ConfluenceScopeError if scope else ConfluenceAuthError)(status, endpoint, message)
    retry_after = parse_retry_after(_first(headers, RETRY_AFTER_HEADERS), now)
    if retry_after is not None:
        retry_after = min(retry_after, MAX_RETRY_AFTER)  # days have been seen in the wild
    if status == 429:
        quota = "quota" in (_first(headers, REASON_HEADERS) or "").lower()
        reset_at = parse_datetime(_first(headers, RESET_HEADERS))
        until = reset_at
        if until is None and retry_after is not None:
            until = now + timedelta(seconds=retry_after)
            if quota:  # an hourly quota resets at the top of the next UTC hour at the latest
                until = min(until, _next_hour(now))
        return ConfluenceRateLimited(
            status,
            endpoint,
            message,
            retry_after=retry_after,
            quota_exhausted=quota,
            reset_at=reset_at,
            until=until,
        )
    if status >= 500:
        return ConfluenceUnavailable(status, endpoint, message, retry_after=retry_after)
    return _SIMPLE.get(status, ConfluenceStatusError)(status, endpoint, message)


# Rate-limit headers (confluence-api.md §7): during the points roll-out Atlassian has sent the
# quota headers under beta names, beside or instead of the documented ones; read both.
REASON_HEADERS = ("ratelimit-reason", "x-beta-ratelimit-reason")
RESET_HEADERS = ("x-ratelimit-reset", "x-beta-ratelimit-reset")  # yyyy-MM-ddTHH:mmZ
RETRY_AFTER_HEADERS = ("retry-after", "beta-retry-after")
# A longer Retry-After is capped: quotas are hourly, so no wait is longer than an hour.
MAX_RETRY_AFTER = 3600.0


def _first(headers: Mapping[str, str], names: Iterable[str]) -> str | None:
    return next((headers[n] for n in names if headers.get(n)), None)


def _next_hour(now: datetime) -> datetime:
    return now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Parse a Retry-After header (seconds or an HTTP date) into seconds from ``now``."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - now) / timedelta(seconds=1))


def parse_datetime(value: object) -> datetime | None:
    """Parse an ISO 8601 timestamp (naive means UTC); None when missing or malformed."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _body_message(body: bytes) -> str:
    """Extract a human message from a v1, v2, gateway, OAuth or plain-text error body."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        data: Any = json.loads(text)
    except ValueError:
        return text[:_MAX_MESSAGE]
    if not isinstance(data, dict):
        return text[:_MAX_MESSAGE]
    return _json_message(data)[:_MAX_MESSAGE]


def _json_message(data: dict[str, Any]) -> str:
    errors = data.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        parts = [first.get("title"), first.get("detail"), first.get("code")]
        return "; ".join(str(p) for p in parts if p)
    for key in ("message", "error_description", "reason", "error"):
        if isinstance(data.get(key), str) and data[key]:
            return str(data[key])
    return ""


def scrub(message: str, secrets: Iterable[str]) -> str:
    """``message`` with every non-empty secret replaced by ``***``."""
    for secret in secrets:
        if secret:
            message = message.replace(secret, "***")
    return message
