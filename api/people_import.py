"""``POST /people/import``: a people CSV as the request body (ADMIN, SPEC §4).

200 with counts when imported; 400 with every problem (row = line of the file) when the
file is rejected — nothing is applied then; 401 / 403 for a missing or insufficient key;
413 over 10 MB (read no further); 415 for a multipart upload.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.container import Container
from api.graphql import bearer_token
from services.errors import DomainError, Forbidden
from services.people.csv_import import MAX_BYTES
from services.people.validation import InvalidPeople


def people_routes(container: Container) -> list[Route]:
    """The CSV import route."""

    async def import_people(request: Request) -> Response:
        token = bearer_token(request.headers.get("authorization"))
        principal = await container.access.authenticate(token)
        if principal is None:
            return _error(401, "UNAUTHENTICATED", "missing, invalid or revoked API key")
        if not container.rate_limiter.allow(principal.api_key_id):
            return _error(429, "RATE_LIMITED", "rate limit exceeded for this API key")
        if request.headers.get("content-type", "").startswith("multipart/"):
            return _error(
                415, "UNSUPPORTED_MEDIA_TYPE", "send the CSV itself as the body (text/csv)"
            )
        body = await _read_capped(request)
        if body is None:
            return _error(413, "FILE_TOO_LARGE", f"the file is over {MAX_BYTES} bytes")
        try:
            summary = await container.compliance.people.import_csv(principal, body)
        except InvalidPeople as exc:
            problems = [{"row": p.row, "field": p.field, "reason": p.reason} for p in exc.problems]
            return JSONResponse(
                {"code": exc.code, "message": exc.message, "problems": problems}, status_code=400
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


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message, "problems": []}, status_code=status)
