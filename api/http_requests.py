"""What every authenticated HTTP route checks before its own work, the same way everywhere.

``authenticate``: the caller's API key (``Authorization: Bearer <key>``) or, without one, the
person's session cookie; else ``Unauthenticated`` (401), ``Unavailable`` (503, the database
cannot check the credential) or ``RateLimited`` (429, counted in ``vigil_rate_limited_total``:
the caller's rate, or — before the credential is even looked up — the client address's budget
of failed authentications, ``api.budgets.AddressLimiter``).
A cookie-authenticated request other than GET must also carry the ``X-Vigil-CSRF`` header
(which a cross-site form cannot send, and which a cross-site script cannot send without a CORS
preflight Vigil refuses) and an ``Origin`` Vigil serves or allows (``CrossSiteRefused``, 403).
``read_body``: the body, or ``PayloadTooLarge`` (413) as soon as it grows past the route's
limit, or ``RequestTimeout`` (408) when it does not arrive within ``body_timeout_seconds``.
The refusals are shaped by ``api.http_errors``.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.requests import Request

from api.budgets import TOO_MANY_FAILURES, bearer_token, client_address, tarpit
from api.container import Container
from api.http_errors import (
    CrossSiteRefused,
    PayloadTooLarge,
    RateLimited,
    RequestTimeout,
    Unauthenticated,
    Unavailable,
    request_id,
)
from services.models import Principal

log = logging.getLogger(__name__)

__all__ = ["admit_address", "authenticate", "bearer_token", "read_body"]


#: The session cookie (``Secure`` outside development, ``HttpOnly``, ``SameSite=Lax``).
SESSION_COOKIE = "vigil_session"
#: The pre-sign-in session's cookie (the same flags, ``Path=/auth``): what a sign-in's callback
#: must come back with. It never authenticates anything else.
SIGNIN_COOKIE = "vigil_signin"
#: The header every cookie-authenticated write must carry (any non-empty value).
CSRF_HEADER = "x-vigil-csrf"
SESSION_ENDED = "your session has ended (signed out, timed out or revoked): sign in again"


async def authenticate(container: Container, request: Request) -> Principal:
    """The caller of ``request`` (API key, else session cookie), within its rate limit (and,
    for an address that keeps failing, within its budget of failures). Both refusals come
    before any database work when they can: the address's from memory, the caller's when this
    process has seen the credential lately (a refusal needs no proof that it is still valid).
    A refusal is answered after a short delay (``api.budgets.tarpit``)."""
    address = client_address(request.scope)
    header = request.headers.get("authorization")
    cookie = None if header else request.cookies.get(SESSION_COOKIE)
    token = bearer_token(header) if cookie is None else cookie  # the credential presented
    limiter = container.address_limiter
    refused_for = limiter.admit(address, token)
    if refused_for:
        await _refuse(container, RateLimited(refused_for, TOO_MANY_FAILURES))
    known = limiter.key_id(token)
    if known is not None:  # its operation is counted now, before its credential is read
        await _take(container, known)
    try:
        if cookie is not None:
            principal = await container.services.sessions.authenticate(cookie)
        else:
            principal = await container.services.api_keys.authenticate(token)
    except Exception:
        limiter.give_back(address, token)
        rid = request_id(request.scope)
        log.exception("authentication failed (request id %s)", rid, extra={"request_id": rid})
        raise Unavailable("the service cannot check credentials right now; retry shortly") from None
    if principal is None:
        # the address's token stays taken
        raise Unauthenticated(SESSION_ENDED) if cookie is not None else Unauthenticated()
    if cookie is not None and request.method not in ("GET", "HEAD"):
        check_same_origin(container, request)
    limiter.succeeded(address, token, principal.actor_id)
    if known != principal.actor_id:
        await _take(container, principal.actor_id)
    return principal


async def admit_address(container: Container, request: Request) -> str:
    """The client address of a request that authenticates nothing (an OAuth or sign-in
    callback), once its budget of failures allows it; else the 429 refusal, after the
    tarpit. The caller reports a success (``address_limiter.succeeded``); a failure keeps
    the address's token."""
    address = client_address(request.scope)
    refused_for = container.address_limiter.admit(address)
    if refused_for:
        await _refuse(container, RateLimited(refused_for, TOO_MANY_FAILURES))
    return address


async def _take(container: Container, actor_id: str) -> None:
    """One operation of ``actor_id`` (an API key or a person), or the 429 refusal."""
    wait = await container.rate_limiter.take(actor_id)
    if wait:
        await _refuse(container, RateLimited(wait))


async def _refuse(container: Container, refusal: RateLimited) -> None:
    container.metrics.rate_limited.inc()
    await tarpit(refusal.retry_after or 1)
    raise refusal


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
    request: Request,
    limit: int,
    *,
    timeout: float,
    code: str | None = None,
    what: str = "request body",
) -> bytes:
    """The whole body, refused (413, ``code``) once it is over ``limit`` bytes, or (408) when
    it is not all there within ``timeout`` seconds."""
    too_large = PayloadTooLarge(limit, code=code, what=what)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise too_large
                chunks.append(chunk)
    except TimeoutError:
        log.info("a request body took over %g s (%s bytes read)", timeout, size)
        raise RequestTimeout(timeout) from None
    return b"".join(chunks)
