"""``GET /evidence/export?checkId=…&format=json|csv``: a check's evidence, streamed.

Authenticated with the same ``Authorization: Bearer <API key>`` as GraphQL (any role: it is a
read) and scoped to the key's organization. Records are read by a database cursor and
written as they come, so memory stays flat however many records there are. Errors are
JSON ``{"errors": [{"message", "extensions": {"code"}}]}`` (``api.http_errors``, docs/api.md)
with a 4xx status, and never a partial file: every check happens before the first byte is
sent.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from api.container import Container
from api.graphql import bearer_token
from api.http_errors import error_response, rate_limited
from services.errors import DomainError, ValidationFailed

_STATUS = {"NOT_FOUND": 404, "VALIDATION_FAILED": 400, "FORBIDDEN": 403}


def _error(status: int, code: str, message: str, **headers: str) -> Response:
    return error_response(status, code, message, headers=headers)


def evidence_routes(container: Container) -> list[Route]:
    """The evidence export route."""

    async def export(request: Request) -> Response:
        token = bearer_token(request.headers.get("authorization"))
        principal = await container.services.api_keys.authenticate(token)
        if principal is None:
            return _error(
                401,
                "UNAUTHENTICATED",
                "missing, invalid or revoked API key (Authorization: Bearer <key>)",
                **{"WWW-Authenticate": "Bearer"},
            )
        wait = await container.rate_limiter.take(principal.api_key_id)
        if wait:
            container.metrics.rate_limited.inc()
            return rate_limited(wait)
        check_id = request.query_params.get("checkId", "").strip()
        fmt = request.query_params.get("format", "json")
        try:
            if not check_id:
                raise ValidationFailed(
                    "checkId is required, e.g. ?checkId=confluence-policy-current"
                )
            prepared = await container.services.evidence.open_export(principal, check_id, fmt)
        except DomainError as exc:
            return _error(_STATUS.get(exc.code, 400), exc.code, exc.message)
        disposition = f'attachment; filename="{prepared.filename}"'
        return StreamingResponse(
            prepared.chunks,
            media_type=prepared.media_type,
            headers={"Content-Disposition": disposition, "Cache-Control": "no-store"},
        )

    return [Route("/evidence/export", export, methods=["GET"])]
