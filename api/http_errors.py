"""One shape for every HTTP error, one status → code table, one function that writes them.

Every route, ``/graphql`` included, answers a refusal as GraphQL does, so one client-side
handler reads them all (docs/api.md)::

    {"errors": [{"message": "…", "extensions": {"code": "RATE_LIMITED", "requestId": "…",
                                               "retryAfter": 3}}]}

with the request id also in ``X-Request-Id``, ``Retry-After`` beside ``retryAfter``, and
``WWW-Authenticate: Bearer`` on a 401. Routes raise an ``ApiError`` (``Unauthenticated``,
``RateLimited``, ``Unavailable``, ``PayloadTooLarge``, ``RequestTimeout``,
``domain_error(…)``, …); Starlette's router raises ``HTTPException`` for an unknown route
(404) or a wrong method (405); anything
else is unexpected: a 500 ``INTERNAL`` naming the request id, under which the detail is
logged. ``EXCEPTION_HANDLERS`` (registered by ``api.app``) turn all three into
``error_response``; nothing else writes an error body.

``RequestIdMiddleware`` gives each HTTP request its id (``request_id(scope)``) and sends it as
``X-Request-Id`` on every response.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.errors import Conflict, DomainError, Forbidden, NotFound

log = logging.getLogger("vigil.http")

REQUEST_ID_HEADER = "X-Request-Id"

#: ``extensions.code`` of each HTTP status (a route may refine it, e.g. ``FILE_TOO_LARGE``).
STATUS_CODES: Mapping[int, str] = MappingProxyType(
    {
        400: "BAD_REQUEST",
        401: "UNAUTHENTICATED",
        403: "FORBIDDEN",
        404: "NOT_FOUND",
        405: "METHOD_NOT_ALLOWED",
        408: "REQUEST_TIMEOUT",
        409: "CONFLICT",
        413: "PAYLOAD_TOO_LARGE",
        415: "UNSUPPORTED_MEDIA_TYPE",
        429: "RATE_LIMITED",
        500: "INTERNAL",
        503: "UNAVAILABLE",
    }
)


def status_code(status: int) -> str:
    """The ``extensions.code`` of ``status`` (a status outside the table: by its class)."""
    return STATUS_CODES.get(status) or ("INTERNAL" if status >= 500 else "BAD_REQUEST")


class ApiError(Exception):
    """An HTTP refusal: a status and one error, or several (``ApiError.several``)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        retry_after: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self.headers = dict(headers or {})
        self.errors: list[dict[str, Any]] = [
            {"message": message, "extensions": {"code": code or status_code(status)}}
        ]

    @classmethod
    def several(cls, status: int, errors: Sequence[tuple[str, Mapping[str, Any]]]) -> ApiError:
        """One response listing ``(message, extensions)`` errors (each with its ``code``)."""
        first, _ = errors[0]
        refusal = cls(status, first)
        refusal.errors = [{"message": m, "extensions": dict(e)} for m, e in errors]
        return refusal


class Unauthenticated(ApiError):
    """401: no key, or one that is unknown or revoked."""

    def __init__(
        self, message: str = "missing, invalid or revoked API key (Authorization: Bearer <key>)"
    ) -> None:
        super().__init__(401, message)


class CrossSiteRefused(ApiError):
    """403: a cookie-authenticated write without the CSRF header or from another origin."""

    def __init__(self, message: str) -> None:
        super().__init__(403, message, code="CSRF_REFUSED")


class RateLimited(ApiError):
    """429: the key's operation rate (or cost budget, or the address's budget of failed
    authentications) is exceeded; ``retry_after`` seconds until the next."""

    def __init__(
        self, retry_after: int, message: str = "rate limit exceeded for this API key; retry shortly"
    ) -> None:
        super().__init__(429, message, retry_after=retry_after)


class RequestTimeout(ApiError):
    """408: the request's body did not arrive in time (the connection is closed after)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            408,
            f"the request body did not arrive within {seconds:g} s",
            headers={"Connection": "close"},
        )


class Unavailable(ApiError):
    """503: a dependency (the database) cannot answer right now."""

    def __init__(self, message: str, *, retry_after: int = 5) -> None:
        super().__init__(503, message, retry_after=retry_after)


class PayloadTooLarge(ApiError):
    """413: the body is over the route's limit (read no further)."""

    def __init__(self, limit: int, *, code: str | None = None, what: str = "request body") -> None:
        super().__init__(413, f"the {what} is larger than {limit} bytes", code=code)


def domain_error(exc: DomainError) -> ApiError:
    """A service's refusal: 404 not found, 403 forbidden, 409 conflict with the stored state
    (e.g. an audit package of a broken evidence chain), else 400; its own code."""
    kinds: tuple[tuple[type[DomainError], int], ...] = (
        (NotFound, 404),
        (Forbidden, 403),
        (Conflict, 409),
    )
    status = next((code for kind, code in kinds if isinstance(exc, kind)), 400)
    return ApiError(status, exc.message, code=exc.code)


def error_response(
    status: int,
    errors: Sequence[Mapping[str, Any]],
    request_id: str,
    *,
    retry_after: int | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """The one error body: every error gets ``requestId`` (and ``retryAfter``)."""
    all_headers = {**(headers or {}), REQUEST_ID_HEADER: request_id}
    extra: dict[str, Any] = {"requestId": request_id}
    if retry_after is not None:
        extra["retryAfter"] = retry_after
        all_headers["Retry-After"] = str(retry_after)
    if status == 401:
        all_headers["WWW-Authenticate"] = "Bearer"
    body = [{**error, "extensions": {**error.get("extensions", {}), **extra}} for error in errors]
    return JSONResponse({"errors": body}, status, headers=all_headers)


def request_id(scope: Scope) -> str:
    """The id of this request (``RequestIdMiddleware``), given one if it has none yet."""
    state: dict[str, Any] = scope.setdefault("state", {})
    found = state.get("request_id")
    if not isinstance(found, str):
        found = state["request_id"] = uuid.uuid4().hex
    return found


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    rid = request_id(request.scope)
    return error_response(
        exc.status, exc.errors, rid, retry_after=exc.retry_after, headers=exc.headers
    )


async def _http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (unknown route, wrong method) in the one shape."""
    assert isinstance(exc, HTTPException)
    error = {"message": str(exc.detail), "extensions": {"code": status_code(exc.status_code)}}
    return error_response(exc.status_code, [error], request_id(request.scope), headers=exc.headers)


async def _unexpected(request: Request, exc: Exception) -> Response:
    """A crash: logged with the request id, answered as a masked 500 ``INTERNAL``."""
    rid = request_id(request.scope)
    log.error(
        "unexpected error on %s %s (request id %s)",
        request.method,
        request.url.path,
        rid,
        exc_info=exc,
        extra={"request_id": rid},
    )
    error = {"message": f"internal error (request id {rid})", "extensions": {"code": "INTERNAL"}}
    return error_response(500, [error], rid)


#: ``Starlette(exception_handlers=...)``: the three ways a request ends in an error.
EXCEPTION_HANDLERS: Mapping[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
    ApiError: _api_error,
    HTTPException: _http_exception,
    Exception: _unexpected,
}


class RequestIdMiddleware:
    """Gives every HTTP request an id and sends it as ``X-Request-Id`` on its response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Tag the response with the request's id (unless it already carries it)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = request_id(scope).encode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(k.lower() == b"x-request-id" for k, _ in headers):
                    headers.append((b"x-request-id", header))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)
