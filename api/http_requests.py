"""What every authenticated HTTP route checks before its own work, the same way everywhere.

``authenticate``: the caller's API key (``Authorization: Bearer <key>``), or ``Unauthenticated``
(401), ``Unavailable`` (503, the database cannot check keys) or ``RateLimited`` (429, counted
in ``vigil_rate_limited_total``: the key's rate, or — before the key is even looked up — the
client address's budget of failed authentications, ``api.budgets.AddressLimiter``).
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
    PayloadTooLarge,
    RateLimited,
    RequestTimeout,
    Unauthenticated,
    Unavailable,
    request_id,
)
from services.models import Principal

log = logging.getLogger(__name__)

__all__ = ["authenticate", "bearer_token", "read_body"]


async def authenticate(container: Container, request: Request) -> Principal:
    """The caller of ``request``, within its key's rate limit (and, for an address that
    keeps failing, within its budget of failures). Both refusals come before any database
    work when they can: the address's from memory, the key's when this process has seen the
    key lately (a refusal needs no proof that the key is still valid). A refusal is answered
    after a short delay (``api.budgets.tarpit``)."""
    address = client_address(request.scope)
    token = bearer_token(request.headers.get("authorization"))
    limiter = container.address_limiter
    refused_for = limiter.admit(address, token)
    if refused_for:
        await _refuse(container, RateLimited(refused_for, TOO_MANY_FAILURES))
    known = limiter.key_id(token)
    if known is not None:  # its operation is counted now, before its key is read
        await _take(container, known)
    try:
        principal = await container.services.api_keys.authenticate(token)
    except Exception:
        limiter.give_back(address, token)
        rid = request_id(request.scope)
        log.exception("authentication failed (request id %s)", rid, extra={"request_id": rid})
        raise Unavailable("the service cannot check API keys right now; retry shortly") from None
    if principal is None:
        raise Unauthenticated()  # the address's token stays taken
    limiter.succeeded(address, token, principal.api_key_id)
    if known != principal.api_key_id:
        await _take(container, principal.api_key_id)
    return principal


async def _take(container: Container, key_id: str) -> None:
    """One operation of ``key_id``, or the 429 refusal."""
    wait = await container.rate_limiter.take(key_id)
    if wait:
        await _refuse(container, RateLimited(wait))


async def _refuse(container: Container, refusal: RateLimited) -> None:
    container.metrics.rate_limited.inc()
    await tarpit(refusal.retry_after or 1)
    raise refusal


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
