"""/graphql refuses bad requests with GraphQL-shaped JSON, a code and the request id."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pymongo.errors import ServerSelectionTimeoutError

from testkit.live import LiveServer, live_server

ME = "{ me { role } }"


@pytest.fixture(scope="module")
async def live() -> AsyncIterator[LiveServer]:
    async with live_server(max_body_bytes=4096, rate_limit_per_minute=1000) as server:
        yield server


@pytest.fixture(scope="module")
async def key(live: LiveServer) -> str:
    _, created = await live.container.services.organizations.create_organization("Acme")
    return created.secret


async def _post(live: LiveServer, key: str | None, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    headers.update(kwargs.pop("headers", {}))
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.post(live.graphql_url, headers=headers, **kwargs)


def _error(resp: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    error: dict[str, Any] = resp.json()["errors"][0]
    assert error["extensions"]["code"] == code
    assert error["extensions"]["requestId"] == resp.headers["x-request-id"]
    return error


JSON = {"content-type": "application/json"}


@pytest.mark.parametrize(
    "body",
    [
        b"null",
        b'"a string"',
        b"42",
        b"[]",
        b"\xff\xfe{}",
        b"[" * 1500 + b"]" * 1500,
        b"{not json",
    ],
)
async def test_malformed_bodies_are_json_400(live: LiveServer, key: str, body: bytes) -> None:
    resp = await _post(live, key, content=body, headers=JSON)
    _error(resp, 400, "BAD_REQUEST")


async def test_deeply_nested_json_is_400() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    async with live_server(max_body_bytes=300_000) as server:
        resp = await _post(server, key=None, content=deep, headers=JSON)
        assert resp.status_code == 401  # authentication comes first
        _, created = await server.container.services.organizations.create_organization("B")
        resp = await _post(server, created.secret, content=deep, headers=JSON)
    _error(resp, 400, "BAD_REQUEST")


async def test_body_size_limit_is_413(live: LiveServer, key: str) -> None:
    query = "{ me { role } }" + " " * 5000
    resp = await _post(live, key, json={"query": query})
    assert "larger than 4096 bytes" in _error(resp, 413, "PAYLOAD_TOO_LARGE")["message"]

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while reading
        for _ in range(10):
            yield b" " * 1000

    resp = await _post(live, key, content=chunks(), headers=JSON)
    _error(resp, 413, "PAYLOAD_TOO_LARGE")


async def test_401_is_graphql_shaped(live: LiveServer) -> None:
    resp = await _post(live, "vgl_unknown_key_value", json={"query": ME})
    error = _error(resp, 401, "UNAUTHENTICATED")
    assert "API key" in error["message"]
    assert resp.headers["www-authenticate"] == "Bearer"


async def test_429_has_retry_after() -> None:
    async with live_server(rate_limit_per_minute=2) as server:
        _, created = await server.container.services.organizations.create_organization("Acme")
        for _ in range(2):
            ok = await _post(server, created.secret, json={"query": ME})
            assert ok.status_code == 200
        resp = await _post(server, created.secret, json={"query": ME})
    error = _error(resp, 429, "RATE_LIMITED")
    assert error["extensions"]["retryAfter"] == int(resp.headers["retry-after"]) >= 1


async def test_database_down_is_503_with_request_id(
    live: LiveServer, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def down(**_: object) -> None:
        raise ServerSelectionTimeoutError("mongo:27017: connection refused")

    monkeypatch.setattr(live.container.store.api_keys, "get_by_secret_hash", down)
    resp = await _post(live, key, json={"query": ME})
    error = _error(resp, 503, "UNAVAILABLE")
    assert "27017" not in error["message"]
    assert resp.headers["retry-after"]


async def test_subscription_over_http_is_a_clear_error(live: LiveServer, key: str) -> None:
    resp = await _post(live, key, json={"query": "subscription { apiKeyChanged { change } }"})
    errors = resp.json()["errors"]
    assert "WebSocket" in errors[0]["message"]
    assert errors[0]["extensions"]["code"] == "BAD_REQUEST"


async def test_no_field_suggestions_in_production(live: LiveServer, key: str) -> None:
    resp = await _post(live, key, json={"query": "{ apiKey { id } }"})
    message = resp.json()["errors"][0]["message"]
    assert "Cannot query field 'apiKey'" in message
    assert "Did you mean" not in message


async def test_fragment_doubling_is_refused_over_http(live: LiveServer, key: str) -> None:
    parts = ["query Q { ...F0 }"]
    parts += [f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(30)]
    parts.append("fragment F30 on Query { me { role } }")
    resp = await _post(live, key, json={"query": "\n".join(parts)})
    assert resp.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"{live.url}/healthz")).status_code == 200


async def test_an_operation_over_its_time_budget_is_cut_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with live_server(operation_timeout_seconds=0.2) as server:
        _, created = await server.container.services.organizations.create_organization("Slow")
        stalled = asyncio.Event()

        async def hang(principal: object) -> None:
            await stalled.wait()  # never set: only the budget ends this

        monkeypatch.setattr(server.container.services.organizations, "get_organization", hang)
        resp = await _post(server, created.secret, json={"query": "{ me { organization { id } } }"})
    error = resp.json()["errors"][0]
    assert error["extensions"]["code"] == "TIMEOUT"
    assert error["extensions"]["requestId"] == resp.headers["x-request-id"]
