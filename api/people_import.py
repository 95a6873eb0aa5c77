"""``POST /people/import``: a people CSV as the request body (ADMIN, SPEC §4).

200 with counts when imported; 400 with every problem when the file is rejected — nothing
is applied then; 401 / 403 for a missing or insufficient key; 413 over 10 MB (read no
further); 408 when the file does not arrive within ``body_timeout_seconds``; 415 for a
multipart upload; 429 with ``Retry-After`` over the rate limit; 503 when
the database cannot check the key.

Errors are ``{"errors": [{"message", "extensions": {"code", "requestId", …}}]}``
(``api.http_errors``); a rejected file has one error per problem, code ``VALIDATION_FAILED``,
with ``row`` (line of the file) and ``column`` (the CSV header, e.g. ``offboarded_at``) in
its extensions.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.container import Container
from api.http_errors import ApiError, domain_error
from api.http_requests import authenticate, read_body
from services.errors import DomainError
from services.people.csv_import import MAX_BYTES
from services.people.validation import InvalidPeople


def people_routes(container: Container) -> list[Route]:
    """The CSV import route."""

    async def import_people(request: Request) -> Response:
        principal = await authenticate(container, request)
        if request.headers.get("content-type", "").startswith("multipart/"):
            raise ApiError(415, "send the CSV itself as the body (text/csv)")
        body = await read_body(
            request,
            MAX_BYTES,
            timeout=container.settings.body_timeout_seconds,
            code="FILE_TOO_LARGE",
            what="file",
        )
        try:
            summary = await container.services.people.import_csv(principal, body)
        except InvalidPeople as exc:
            raise ApiError.several(
                400,
                [
                    (p.reason, {"code": "VALIDATION_FAILED", "row": p.row, "column": p.field})
                    for p in exc.problems
                ],
            ) from None
        except DomainError as exc:
            raise domain_error(exc) from None
        return JSONResponse(
            {
                "imported": len(summary.people),
                "created": summary.created,
                "updated": summary.updated,
                "unchanged": summary.unchanged,
            }
        )

    return [Route("/people/import", import_people, methods=["POST"])]
