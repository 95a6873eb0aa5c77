"""What every authenticated HTTP route checks before its own work, the same way everywhere.

``authenticate``: the caller's API key (``Authorization: Bearer <key>``), or ``Unauthenticated``
(401), ``Unavailable`` (503, the database cannot check keys) or ``RateLimited`` (429, counted
in ``vigil_rate_limited_total``). ``read_body``: the body, or ``PayloadTooLarge`` (413) as soon
as it grows past the route's limit. The refusals are shaped by ``api.http_errors``.
"""

from __future__ import annotations

import logging

from starlette.requests import Request

from api.container import Container
from api.http_errors import PayloadTooLarge, RateLimited, Unauthenticated, Unavailable, request_id
from services.models import Principal

log = logging.getLogger(__name__)


def bearer_token(value: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` value, else None."""
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


async def authenticate(container: Container, request: Request) -> Principal:
    """The caller of ``request``, within its key's rate limit."""
    token = bearer_token(request.headers.get("authorization"))
    try:
        principal = await container.services.api_keys.authenticate(token)
    except Exception:
        rid = request_id(request.scope)
        log.exception("authentication failed (request id %s)", rid, extra={"request_id": rid})
        raise Unavailable("the service cannot check API keys right now; retry shortly") from None
    if principal is None:
        raise Unauthenticated()
    wait = await container.rate_limiter.take(principal.api_key_id)
    if wait:
        container.metrics.rate_limited.inc()
        raise RateLimited(wait)
    return principal


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
