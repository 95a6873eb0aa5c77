"""``POST /people/import``: a people CSV as the request body (ADMIN, SPEC §4).

200 with counts when imported; 400 with every problem when the file is rejected — nothing
is applied then; 401 / 403 for a missing or insufficient key; 413 over 10 MB (read no
further); 415 for a multipart upload; 429 with ``Retry-After`` over the rate limit.

Errors are ``{"errors": [{"message", "extensions": {"code", …}}]}`` (``api.http_errors``);
a rejected file has one error per problem, code ``VALIDATION_FAILED``, with ``row`` (line
of the file) and ``column`` (the CSV header, e.g. ``offboarded_at``) in its extensions.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.container import Container
from api.graphql import bearer_token
from api.http_errors import error_response, errors_response, rate_limited
from services.errors import DomainError, Forbidden
from services.people.csv_import import MAX_BYTES
from services.people.validation import InvalidPeople, Problem


def people_routes(container: Container) -> list[Route]:
    """The CSV import route."""

    async def import_people(request: Request) -> Response:
        token = bearer_token(request.headers.get("authorization"))
        principal = await container.services.api_keys.authenticate(token)
        if principal is None:
            return _error(401, "UNAUTHENTICATED", "missing, invalid or revoked API key")
        wait = await container.rate_limiter.take(principal.api_key_id)
        if wait:
            return rate_limited(wait)
        if request.headers.get("content-type", "").startswith("multipart/"):
            return _error(
                415, "UNSUPPORTED_MEDIA_TYPE", "send the CSV itself as the body (text/csv)"
            )
        body = await _read_capped(request)
        if body is None:
            return _error(413, "FILE_TOO_LARGE", f"the file is over {MAX_BYTES} bytes")
        try:
            summary = await container.services.people.import_csv(principal, body)
        except InvalidPeople as exc:
            return errors_response(
                400,
                [
                    {
                        "message": p.reason,
                        "extensions": {
                            "code": "VALIDATION_FAILED",
                            "row": p.row,
                            "column": p.field,
                        },
                    }
                    for p in exc.problems
                ],
            )
        except Forbidden as exc:
            return _error(403, exc.code, exc.message)
        except DomainError as exc:
            return _error(400, exc.code, exc.message)
        return JSONResponse(
            {
                "imported": len(summary.people),
                "created": summary.created,
                "updated": summary.updated,
                "unchanged": summary.unchanged,
            }
        )

    return [Route("/people/import", import_people, methods=["POST"])]


async def _read_capped(request: Request) -> bytes | None:
    """The body, or None as soon as it grows past the limit."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _problem(problem: Problem) -> dict[str, Any]:
    extensions = {"code": "VALIDATION_FAILED", "row": problem.row, "column": problem.field}
    return {"message": problem.reason, "extensions": extensions}


def _error(status: int, code: str, message: str) -> JSONResponse:
    return error_response(status, code, message)
