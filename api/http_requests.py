"""What every authenticated HTTP route checks before its own work, the same way everywhere.

``authenticate``: the caller's API key (``Authorization: Bearer <key>``) or, without one, the
person's session cookie; else ``Unauthenticated`` (401), ``Unavailable`` (503, the database
cannot check the credential) or ``RateLimited`` (429, counted in ``vigil_rate_limited_total``).
A cookie-authenticated request other than GET must also carry the ``X-Vigil-CSRF`` header
(which a cross-site form cannot send, and which a cross-site script cannot send without a CORS
preflight Vigil refuses) and an ``Origin`` Vigil serves or allows (``CrossSiteRefused``, 403).
``read_body``: the body, or ``PayloadTooLarge`` (413) as soon as it grows past the route's
limit. The refusals are shaped by ``api.http_errors``.
"""

from __future__ import annotations

import logging

from starlette.requests import Request

from api.container import Container
from api.http_errors import (
    CrossSiteRefused,
    PayloadTooLarge,
    RateLimited,
    Unauthenticated,
    Unavailable,
    request_id,
)
from services.models import Principal

log = logging.getLogger(__name__)


def bearer_token(value: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` value, else None."""
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


#: The session cookie (``Secure`` outside development, ``HttpOnly``, ``SameSite=Lax``).
SESSION_COOKIE = "vigil_session"
#: The pre-sign-in session's cookie (the same flags, ``Path=/auth``): what a sign-in's callback
#: must come back with. It never authenticates anything else.
SIGNIN_COOKIE = "vigil_signin"
#: The header every cookie-authenticated write must carry (any non-empty value).
CSRF_HEADER = "x-vigil-csrf"
SESSION_ENDED = "your session has ended (signed out, timed out or revoked): sign in again"


async def authenticate(container: Container, request: Request) -> Principal:
    """The caller of ``request`` (API key, else session cookie), within its rate limit."""
    header = request.headers.get("authorization")
    cookie = None if header else request.cookies.get(SESSION_COOKIE)
    try:
        if cookie is not None:
            principal = await container.services.sessions.authenticate(cookie)
        else:
            principal = await container.services.api_keys.authenticate(bearer_token(header))
    except Exception:
        rid = request_id(request.scope)
        log.exception("authentication failed (request id %s)", rid, extra={"request_id": rid})
        raise Unavailable("the service cannot check credentials right now; retry shortly") from None
    if principal is None:
        raise Unauthenticated(SESSION_ENDED) if cookie is not None else Unauthenticated()
    if cookie is not None and request.method not in ("GET", "HEAD"):
        check_same_origin(container, request)
    wait = container.rate_limiter.take(principal.actor_id)
    if wait:
        container.metrics.rate_limited.inc()
        raise RateLimited(wait)
    return principal


def check_same_origin(container: Container, request: Request) -> None:
    """A cookie-authenticated write: the CSRF header, and an Origin Vigil serves or allows."""
    if not request.headers.get(CSRF_HEADER):
        raise CrossSiteRefused(
            "a request authenticated by the session cookie must carry the X-Vigil-CSRF header"
        )
    origin = request.headers.get("origin")
    if origin not in container.settings.browser_origins:
        raise CrossSiteRefused(
            f"requests from origin {origin or '(none)'} may not use the session cookie"
        )


async def read_body(
    request: Request, limit: int, *, code: str | None = None, what: str = "request body"
) -> bytes:
    """The whole body, refused (413, ``code``) once it is over ``limit`` bytes."""
    too_large = PayloadTooLarge(limit, code=code, what=what)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)
