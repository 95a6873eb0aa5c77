"""``GET /evidence/export?checkId=…&format=json|csv``: a check's evidence, streamed.

Authenticated with the same ``Authorization: Bearer <API key>`` as GraphQL (any role: it is a
read) and scoped to the key's organization. Records are read by a database cursor and
written as they come, so memory stays flat however many records there are. Errors are
JSON ``{"errors": [{"message", "extensions": {"code", "requestId"}}]}`` (``api.http_errors``,
docs/api.md) with a 4xx status, and never a partial file: every check happens before the
first byte is sent.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from api.container import Container
from api.http_errors import domain_error
from api.http_requests import authenticate
from services.errors import DomainError, ValidationFailed


def evidence_routes(container: Container) -> list[Route]:
    """The evidence export route."""

    async def export(request: Request) -> Response:
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
