"""HTTP error statuses and transport failures map to the ConfluenceError tree."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from services.confluence import paths
from services.confluence.client import ConfluenceClient
from services.confluence.errors import (
    ConfluenceAuthError,
    ConfluenceBadRequest,
    ConfluenceConnectionError,
    ConfluenceError,
    ConfluenceForbidden,
    ConfluenceNotFound,
    ConfluenceProtocolError,
    ConfluenceRateLimited,
    ConfluenceRequestError,
    ConfluenceScopeError,
    ConfluenceStatusError,
    ConfluenceTimeout,
    ConfluenceUnavailable,
    error_from_response,
    parse_retry_after,
)

from .support import T0, Router
from .test_confluence_retry import FINAL_STATUSES

V1_404 = {"statusCode": 404, "data": {"authorized": True}, "message": "No group", "reason": "NF"}
V2_404 = {"errors": [{"status": 404, "code": "NOT_FOUND", "title": "Not Found", "detail": None}]}
SCOPE_401 = {"code": 401, "message": "Unauthorized; scope does not match"}


def _error(status: int, body: bytes | str, headers: dict[str, str] | None = None) -> Exception:
    raw = body.encode() if isinstance(body, str) else body
    return error_from_response(status, headers or {}, raw, endpoint="/wiki/x", now=T0)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        *FINAL_STATUSES,
        (429, ConfluenceRateLimited),
        (502, ConfluenceUnavailable),
        (503, ConfluenceUnavailable),
        (504, ConfluenceUnavailable),
        (409, ConfluenceStatusError),
    ],
)
def test_status_maps_to_class(status: int, kind: type[Exception]) -> None:
    error = _error(status, "")
    assert type(error) is kind
    assert isinstance(error, ConfluenceStatusError)
    assert error.status == status
    assert error.endpoint == "/wiki/x"


def test_v1_body_message() -> None:
    error = _error(404, '{"statusCode":404,"message":"No group with id g","reason":"Not Found"}')
    assert isinstance(error, ConfluenceNotFound)
    assert error.message == "No group with id g"
    assert str(error) == "/wiki/x returned HTTP 404: No group with id g"


def test_v2_body_message() -> None:
    error = _error(404, json.dumps(V2_404))
    assert isinstance(error, ConfluenceStatusError)
    assert error.message == "Not Found; NOT_FOUND"


@pytest.mark.parametrize(
    "body", ["<html><body>Bad gateway</body></html>", "", "\xff\xfe not utf8", "[1,2]", "null"]
)
def test_non_json_bodies_tolerated(body: str) -> None:
    error = _error(502, body)
    assert isinstance(error, ConfluenceUnavailable)
    assert error.message


def test_scope_401_vs_plain_401() -> None:
    scope = _error(401, json.dumps(SCOPE_401))
    plain = _error(401, '{"code":401,"message":"Unauthorized"}')
    text = _error(401, "Unauthorized")
    assert type(scope) is ConfluenceScopeError
    assert isinstance(scope, ConfluenceAuthError)
    assert type(plain) is ConfluenceAuthError
    assert type(text) is ConfluenceAuthError


def test_rate_limited_headers() -> None:
    headers = {
        "retry-after": "7",
        "x-ratelimit-reset": "2026-11-29T11:00:00Z",
        "ratelimit-reason": "confluence-quota-tenant-based",
    }
    error = _error(429, "", headers)
    assert isinstance(error, ConfluenceRateLimited)
    assert error.retry_after == 7.0
    assert error.quota_exhausted is True
    assert error.reset_at == datetime(2026, 11, 29, 11, tzinfo=UTC)


def test_burst_rate_limit_is_not_quota() -> None:
    error = _error(429, "", {"retry-after": "2", "ratelimit-reason": "burst"})
    assert isinstance(error, ConfluenceRateLimited)
    assert error.quota_exhausted is False
    assert error.reset_at is None


def test_unavailable_carries_retry_after() -> None:
    error = _error(503, "", {"retry-after": "3"})
    assert isinstance(error, ConfluenceUnavailable)
    assert error.retry_after == 3.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5", 5.0),
        ("0.5", 0.5),
        ("-3", 0.0),
        ("Sun, 29 Nov 2026 10:15:30 GMT", 30.0),
        ("soon", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, T0) == expected


def test_secrets_scrubbed_from_message() -> None:
    error = error_from_response(
        401, {}, b"bad token tok-SECRET-1 given", endpoint="/e", now=T0, secrets=["tok-SECRET-1"]
    )
    assert "tok-SECRET-1" not in str(error)
    assert "***" in str(error)


def test_hierarchy() -> None:
    assert issubclass(ConfluenceTimeout, ConfluenceRequestError)
    assert issubclass(ConfluenceTimeout, TimeoutError)
    assert issubclass(ConfluenceConnectionError, ConfluenceRequestError)
    assert issubclass(ConfluenceProtocolError, ConfluenceRequestError)
    assert issubclass(ConfluenceRequestError, ConfluenceError)
    assert issubclass(ConfluenceStatusError, ConfluenceError)


# ----- through the client -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (400, V1_404 | {"statusCode": 400}, ConfluenceBadRequest),
        (401, SCOPE_401, ConfluenceScopeError),
        (403, V2_404, ConfluenceForbidden),
        (404, V1_404, ConfluenceNotFound),
    ],
)
async def test_client_raises_final_errors_without_retry(
    router: Router,
    client: ConfluenceClient,
    status: int,
    body: dict[str, object],
    kind: type[Exception],
) -> None:
    router.json("GET", paths.GROUPS, body, status=status)
    with pytest.raises(kind):
        await client.list_groups()
    assert len(router.requests) == 1


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (httpx.ReadTimeout("timed out"), ConfluenceTimeout),
        (httpx.ConnectTimeout("timed out"), ConfluenceTimeout),
        (httpx.ConnectError("refused"), ConfluenceConnectionError),
        (httpx.ReadError("reset by peer"), ConfluenceConnectionError),
        (httpx.RemoteProtocolError("incomplete body"), ConfluenceProtocolError),
        (
            httpx.RemoteProtocolError("Server disconnected without sending a response."),
            ConfluenceConnectionError,
        ),
    ],
)
async def test_transport_failures(
    router: Router, client: ConfluenceClient, exc: Exception, kind: type[Exception]
) -> None:
    def boom(request: httpx.Request) -> httpx.Response:
        raise exc

    router.add("GET", paths.GROUPS, boom)
    with pytest.raises(kind):
        await client.list_groups()
    assert len(router.requests) == 5  # retried up to max_attempts


async def test_truncated_json_body_is_protocol_error(
    router: Router, client: ConfluenceClient
) -> None:
    router.sequence("GET", paths.GROUPS, httpx.Response(200, content=b'{"results":[{"id":'))
    with pytest.raises(ConfluenceProtocolError, match="not valid JSON"):
        await client.list_groups()


async def test_wrong_shape_is_protocol_error(router: Router, client: ConfluenceClient) -> None:
    router.json("GET", paths.GROUPS, {"results": "nope"})
    with pytest.raises(ConfluenceProtocolError):
        await client.list_groups()
    router.json("GET", paths.GROUPS, [1, 2])
    with pytest.raises(ConfluenceProtocolError):
        await client.list_groups()
