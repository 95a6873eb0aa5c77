"""One shape for every HTTP error body, and an ``X-Request-Id`` on every response.

Every non-GraphQL route answers errors as GraphQL does, so one client-side handler reads
them all (docs/api.md)::

    {"errors": [{"message": "…", "extensions": {"code": "RATE_LIMITED", …}}]}

``RequestIdMiddleware`` gives each HTTP request an id, sends it as ``X-Request-Id`` (unless
the route set its own, as ``/graphql`` does), and turns an unexpected exception into a JSON
500 ``INTERNAL`` error naming that id, which is also in the server log.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("vigil.http")

REQUEST_ID_HEADER = "X-Request-Id"

#: The ``extensions.code`` of a bare HTTP status (unknown route, wrong method…).
_STATUS_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
}


def error_body(code: str, message: str, **extensions: Any) -> dict[str, list[dict[str, Any]]]:
    """``{"errors": [{"message", "extensions": {"code", …}}]}`` for one error."""
    return {"errors": [{"message": message, "extensions": {"code": code, **extensions}}]}


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    """A JSON error response in the one shape; 429 gets ``Retry-After`` from ``retryAfter``."""
    all_headers = dict(headers or {})
    retry_after = extensions.get("retryAfter")
    if status == 429 and retry_after is not None:
        all_headers.setdefault("Retry-After", str(retry_after))
    return JSONResponse(error_body(code, message, **extensions), status, headers=all_headers)


def errors_response(status: int, errors: Sequence[Mapping[str, Any]]) -> JSONResponse:
    """Several errors at once (e.g. every invalid row of a file)."""
    return JSONResponse({"errors": [dict(e) for e in errors]}, status)


def rate_limited(retry_after: int) -> JSONResponse:
    """429 ``RATE_LIMITED`` with ``retryAfter`` (seconds until a request is allowed again)."""
    return error_response(
        429, "RATE_LIMITED", "rate limit exceeded for this API key", retryAfter=retry_after
    )


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    """Starlette's own 404 / 405 / … in the one JSON shape."""
    assert isinstance(exc, HTTPException)
    code = _STATUS_CODES.get(exc.status_code, "BAD_REQUEST")
    return error_response(exc.status_code, code, str(exc.detail), headers=exc.headers)


class RequestIdMiddleware:
    """``X-Request-Id`` on every HTTP response; unexpected exceptions become JSON 500s."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Tag the response with the request id; mask a crash as ``INTERNAL``."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started, request_id
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                own = [v for k, v in headers if k.lower() == b"x-request-id"]
                if own:
                    request_id = own[0].decode("latin-1")
                else:
                    headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception(
                "unexpected error on %s %s (request id %s)",
                scope.get("method"),
                scope.get("path"),
                request_id,
                extra={"request_id": request_id},
            )
            if started:
                raise
            response = error_response(
                500,
                "INTERNAL",
                f"internal error (request id {request_id})",
                requestId=request_id,
            )
            await response(scope, receive, send_with_id)
