"""Response helpers in Atlassian's error shapes (v1, v2, gateway, OAuth)."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

JSON_TYPE = "application/json;charset=UTF-8"
_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
_V2_CODES = {
    400: "INVALID_REQUEST_PARAMETER",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    429: "TOO_MANY_REQUESTS",
    503: "SERVICE_UNAVAILABLE",
}


def reason(status: int) -> str:
    """The HTTP reason phrase."""
    return _REASONS.get(status, "Error")


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A compact JSON response with Atlassian's content type."""
    payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(payload, status_code=status, headers=headers, media_type=JSON_TYPE)


def v1_body(status: int, message: str) -> dict[str, Any]:
    """A v1 error body `{statusCode, data, message, reason}`."""
    return {
        "statusCode": status,
        "data": {
            "authorized": status not in (401, 403),
            "valid": status != 400,
            "allowedInReadOnlyMode": True,
            "errors": [],
            "successful": False,
        },
        "message": message,
        "reason": reason(status),
    }


def v2_body(status: int, title: str | None = None, detail: str | None = None) -> dict[str, Any]:
    """A v2 error body `{"errors": [{status, code, title, detail}]}`."""
    error = {
        "status": status,
        "code": _V2_CODES.get(status, "ERROR"),
        "title": title or reason(status),
        "detail": detail,
    }
    return {"errors": [error]}


def v1_error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """A v1 error response."""
    return json_response(v1_body(status, message), status, headers)


def v2_error(
    status: int,
    title: str | None = None,
    detail: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A v2 error response."""
    return json_response(v2_body(status, title, detail), status, headers)


def gateway_error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """An api.atlassian.com gateway error `{"code", "message"}`."""
    return json_response({"code": status, "message": message}, status, headers)


def admin_error(status: int, detail: str) -> Response:
    """An Admin API (api.atlassian.com/admin) error: ``{"errors": [{status, code, title,
    detail}]}`` (jira.js ``ApiErrorResponse``)."""
    error = {"status": str(status), "code": f"ADMIN-{status}", "title": reason(status)}
    error["detail"] = detail
    return json_response({"errors": [error]}, status)


def oauth_error(status: int, error: str, description: str) -> Response:
    """An auth.atlassian.com token endpoint error."""
    return json_response({"error": error, "error_description": description}, status)


def error_for_route(route_name: str, status: int, message: str, **headers: str) -> Response:
    """An error in the shape the route's API family uses (v1, v2 or gateway)."""
    if "/wiki/rest/api/" in route_name:
        return v1_error(status, message, headers or None)
    if "/wiki/api/v2/" in route_name:
        return v2_error(status, detail=message, headers=headers or None)
    return gateway_error(status, message, headers or None)
