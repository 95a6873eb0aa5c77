"""``GET /evidence/export?checkId=…&format=json|csv``: a check's evidence, streamed.

Authenticated with the same ``Authorization: Bearer <API key>`` as GraphQL (any role: it is a
read) and scoped to the key's organization; or, for a browser following a plain link,
``GET /evidence/export?token=…`` with a token from the ``evidenceExportLink`` query (a minute,
once, tied to the key that made it: ``services.evidence.downloads``), which names the check
and the format itself. Records are read by a database cursor and written as they come, so
memory stays flat however many records there are. Errors are JSON
``{"errors": [{"message", "extensions": {"code", "requestId"}}]}`` (``api.http_errors``,
docs/api.md) with a 4xx status, and never a partial file: every check happens before the
first byte is sent.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from api.container import Container
from api.http_errors import RateLimited, Unauthenticated, Unavailable, domain_error
from api.http_requests import authenticate
from services.errors import DomainError, ValidationFailed
from services.models import Principal

log = logging.getLogger(__name__)


def evidence_routes(container: Container) -> list[Route]:
    """The evidence export route."""

    async def export(request: Request) -> Response:
        token = request.query_params.get("token")
        if token is not None:
            principal, check_id, fmt = await _redeem(container, token)
        else:
            principal = await authenticate(container, request)
            check_id = request.query_params.get("checkId", "").strip()
            fmt = request.query_params.get("format", "json")
        try:
            if not check_id:
                raise ValidationFailed(
                    "checkId is required, e.g. ?checkId=confluence-policy-current"
                )
            prepared = await container.services.evidence.open_export(principal, check_id, fmt)
        except DomainError as exc:
            raise domain_error(exc) from None
        disposition = f'attachment; filename="{prepared.filename}"'
        return StreamingResponse(
            prepared.chunks,
            media_type=prepared.media_type,
            headers={"Content-Disposition": disposition, "Cache-Control": "no-store"},
        )

    return [Route("/evidence/export", export, methods=["GET"])]


async def _redeem(container: Container, token: str) -> tuple[Principal, str, str]:
    """The caller, check and format of a download link (401 unless it is valid; counted in
    the key's rate like any request)."""
    try:
        found = await container.services.downloads.redeem(token)
    except Exception:
        log.exception("a download link could not be checked")
        raise Unavailable("the service cannot check download links right now; retry") from None
    if found is None:
        raise Unauthenticated(
            "this download link is unknown, expired or already used: ask for a new one "
            "(evidenceExportLink)"
        )
    principal, grant = found
    wait = await container.rate_limiter.take(principal.actor_id)
    if wait:
        container.metrics.rate_limited.inc()
        raise RateLimited(wait)
    return principal, grant.check_id, grant.format
