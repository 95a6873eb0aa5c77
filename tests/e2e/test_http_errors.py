"""Every HTTP error of the non-GraphQL routes has one JSON shape, 429 says when to retry, and
every response carries ``X-Request-Id`` (docs/api.md, issue 14)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from testkit.live import LiveServer, live_server


@pytest.fixture
async def strict() -> AsyncIterator[LiveServer]:
    async with live_server(rate_limit_per_minute=1) as live:
        yield live


def one_error(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"].startswith("application/json"), response.text
    [error] = response.json()["errors"]
    assert error["message"]
    return dict(error)


async def test_every_response_has_a_request_id_and_unknown_routes_are_json(
    live: LiveServer, http: httpx.AsyncClient
) -> None:
    health = await http.get(f"{live.url}/healthz")
    assert health.status_code == 200 and len(health.headers["x-request-id"]) == 32
    other = await http.get(f"{live.url}/healthz")
    assert other.headers["x-request-id"] != health.headers["x-request-id"]

    missing = await http.get(f"{live.url}/no/such/route")
    assert missing.status_code == 404 and missing.headers["x-request-id"]
    assert one_error(missing)["extensions"]["code"] == "NOT_FOUND"
    wrong_method = await http.delete(f"{live.url}/people/import")
    assert wrong_method.status_code == 405
    assert one_error(wrong_method)["extensions"]["code"] == "METHOD_NOT_ALLOWED"

    graphql = await http.post(
        f"{live.url}/graphql", json={"query": "{ me { role } }"}, headers={"Authorization": "x"}
    )
    assert graphql.headers["x-request-id"]
    assert graphql.headers.get_list("x-request-id") == [graphql.headers["x-request-id"]]


async def test_rate_limited_routes_say_when_to_retry(
    strict: LiveServer, http: httpx.AsyncClient
) -> None:
    _, created = await strict.container.services.organizations.create_organization("Acme")
    auth = {"Authorization": f"Bearer {created.secret}"}
    csv = b"email,name,status,job_role,start_date,offboarded_at\n"
    first = await http.post(f"{strict.url}/people/import", content=csv, headers=auth)
    assert first.status_code == 200, first.text
    for response in (
        await http.post(f"{strict.url}/people/import", content=csv, headers=auth),
        await http.get(f"{strict.url}/evidence/export", params={"checkId": "x"}, headers=auth),
    ):
        assert response.status_code == 429
        error = one_error(response)
        assert error["extensions"]["code"] == "RATE_LIMITED"
        retry_after = error["extensions"]["retryAfter"]
        assert 1 <= retry_after <= 60  # one request a minute: about a minute to wait
        assert response.headers["retry-after"] == str(retry_after)


async def test_an_unexpected_failure_is_a_json_internal_error_naming_the_request(
    live: LiveServer, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    _, created = await live.container.services.organizations.create_organization("Acme")

    async def broken(*args: Any) -> Any:
        raise RuntimeError("disk on fire")

    people = live.container.services.people
    original = people.import_csv
    people.import_csv = broken  # type: ignore[method-assign]
    try:
        response = await http.post(
            f"{live.url}/people/import",
            content=b"email\n",
            headers={"Authorization": f"Bearer {created.secret}"},
        )
    finally:
        people.import_csv = original  # type: ignore[method-assign]
    assert response.status_code == 500
    error = one_error(response)
    request_id = response.headers["x-request-id"]
    assert error["extensions"] == {"code": "INTERNAL", "requestId": request_id}
    assert "disk on fire" not in response.text
    assert any(request_id in r.getMessage() for r in caplog.records)
