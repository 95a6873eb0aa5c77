"""Every HTTP route answers the same failure in the same shape (docs/api.md, ``api.http_errors``):
``{"errors": [{"message", "extensions": {"code", "requestId", …}}]}``, the request id also in
``X-Request-Id``, ``retryAfter`` with ``Retry-After``, ``WWW-Authenticate`` on a 401."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pymongo.errors import ServerSelectionTimeoutError

from services.models import Role
from tests.conftest import LiveServer
from tests.security.support import live_server

BODY_LIMIT = 4096
ME = {"query": "{ me { role } }"}
CSV = b"email,name,status,job_role,start_date,offboarded_at\n"


@dataclass(frozen=True)
class Keys:
    admin: str
    viewer: str


@pytest.fixture(scope="module")
async def live() -> AsyncIterator[LiveServer]:
    async with live_server(max_body_bytes=BODY_LIMIT) as server:
        yield server


@pytest.fixture(scope="module")
async def keys(live: LiveServer) -> Keys:
    org, created = await live.container.services.organizations.create_organization("Acme")
    viewer = await live.container.services.api_keys.create_api_key_for(
        org.id, Role.VIEWER, "viewer"
    )
    return Keys(admin=created.secret, viewer=viewer.secret)


@pytest.fixture(scope="module")
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


@dataclass(frozen=True)
class Caller:
    """The server, an ADMIN key and a client: what the per-route failures need."""

    live: LiveServer
    key: str
    http: httpx.AsyncClient

    async def send(self, route: Send) -> httpx.Response:
        return await route(self.http, self.live.url, self.key)


@pytest.fixture
def admin(live: LiveServer, keys: Keys, http: httpx.AsyncClient) -> Caller:
    return Caller(live, keys.admin, http)


Send = Callable[[httpx.AsyncClient, str, str | None], Awaitable[httpx.Response]]


def bearer(key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"} if key else {}


async def graphql(http: httpx.AsyncClient, url: str, key: str | None) -> httpx.Response:
    return await http.post(f"{url}/graphql", json=ME, headers=bearer(key))


async def people_import(http: httpx.AsyncClient, url: str, key: str | None) -> httpx.Response:
    headers = {"content-type": "text/csv", **bearer(key)}
    return await http.post(f"{url}/people/import", content=CSV, headers=headers)


async def evidence_export(http: httpx.AsyncClient, url: str, key: str | None) -> httpx.Response:
    params = {"checkId": "confluence-policy-current"}
    return await http.get(f"{url}/evidence/export", params=params, headers=bearer(key))


AUTHENTICATED: list[Any] = [
    pytest.param(graphql, id="graphql"),
    pytest.param(people_import, id="people-import"),
    pytest.param(evidence_export, id="evidence-export"),
]


def the_error(
    response: httpx.Response, status: int, code: str, *, count: int = 1
) -> list[dict[str, Any]]:
    """The errors of ``response``, checked to be in the one shape with ``status`` and ``code``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    [request_id] = response.headers.get_list("x-request-id")
    body = response.json()
    assert list(body) == ["errors"], body
    errors: list[dict[str, Any]] = body["errors"]
    assert len(errors) == count, errors
    for error in errors:
        assert set(error) == {"message", "extensions"}, error
        assert isinstance(error["message"], str) and error["message"]
        assert error["extensions"]["code"] == code
        assert error["extensions"]["requestId"] == request_id
        retry_after = error["extensions"].get("retryAfter")
        if status in (429, 503):
            assert isinstance(retry_after, int) and retry_after >= 1
            assert response.headers["retry-after"] == str(retry_after)
        else:
            assert retry_after is None and "retry-after" not in response.headers
    assert (response.headers.get("www-authenticate") == "Bearer") is (status == 401)
    return errors


@pytest.mark.parametrize("send", AUTHENTICATED)
@pytest.mark.parametrize(
    "presented",
    [None, "vgl_unknown_key_value", "not-even-a-vigil-key"],
    ids=["no-key", "unknown-key", "malformed-key"],
)
async def test_bad_auth_is_401_unauthenticated(
    live: LiveServer, http: httpx.AsyncClient, send: Send, presented: str | None
) -> None:
    [error] = the_error(await send(http, live.url, presented), 401, "UNAUTHENTICATED")
    assert "API key" in error["message"]


async def test_a_scheme_other_than_bearer_is_401(live: LiveServer, http: httpx.AsyncClient) -> None:
    for path in ("/graphql", "/people/import"):
        response = await http.post(f"{live.url}{path}", headers={"Authorization": "Basic eDp5"})
        the_error(response, 401, "UNAUTHENTICATED")


@pytest.mark.parametrize("send", AUTHENTICATED)
async def test_over_the_rate_limit_is_429_with_retry_after(
    admin: Caller, send: Send, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(admin.live.container.rate_limiter, "take", lambda key: 7)
    registry = admin.live.container.metrics.registry
    counted = registry.get_sample_value("vigil_rate_limited_total") or 0
    [error] = the_error(await admin.send(send), 429, "RATE_LIMITED")
    assert error["extensions"]["retryAfter"] == 7
    assert registry.get_sample_value("vigil_rate_limited_total") == counted + 1


@pytest.mark.parametrize("send", AUTHENTICATED)
async def test_a_database_outage_is_503_unavailable(
    admin: Caller, send: Send, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def down(**_: object) -> None:
        raise ServerSelectionTimeoutError("mongo:27017: connection refused")

    monkeypatch.setattr(admin.live.container.store.api_keys, "get_by_secret_hash", down)
    [error] = the_error(await admin.send(send), 503, "UNAVAILABLE")
    assert "27017" not in error["message"]


async def test_readiness_without_a_database_is_503_unavailable(
    live: LiveServer, http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def unreachable() -> bool:
        return False

    assert (await http.get(f"{live.url}/readyz")).status_code == 200
    monkeypatch.setattr(live.container.store, "ping", unreachable)
    [error] = the_error(await http.get(f"{live.url}/readyz"), 503, "UNAVAILABLE")
    assert error["message"] == "database unreachable"


async def test_bodies_over_the_limit_are_413(
    live: LiveServer, keys: Keys, http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    query = {"query": "{ me { role } }" + " " * BODY_LIMIT}
    response = await http.post(f"{live.url}/graphql", json=query, headers=bearer(keys.admin))
    [error] = the_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert f"larger than {BODY_LIMIT} bytes" in error["message"]

    monkeypatch.setattr("api.people_import.MAX_BYTES", 100)
    headers = {"content-type": "text/csv", **bearer(keys.admin)}
    response = await http.post(f"{live.url}/people/import", content=b"x" * 101, headers=headers)
    [error] = the_error(response, 413, "FILE_TOO_LARGE")  # the route's refinement (docs/api.md)
    assert "larger than 100 bytes" in error["message"]


async def test_bad_requests_are_400(live: LiveServer, keys: Keys, http: httpx.AsyncClient) -> None:
    auth = bearer(keys.admin)
    not_json = await http.post(
        f"{live.url}/graphql", content=b"{not json", headers={"content-type": "application/json"}
    )
    the_error(not_json, 401, "UNAUTHENTICATED")  # the key is checked before the body
    for body in (b"{not json", b"[]", b"{}"):
        response = await http.post(
            f"{live.url}/graphql",
            content=body,
            headers={"content-type": "application/json", **auth},
        )
        the_error(response, 400, "BAD_REQUEST")
    over_get = await http.get(f"{live.url}/graphql", params={"query": "{ me { role } }"})
    the_error(over_get, 400, "BAD_REQUEST")

    no_check = await http.get(f"{live.url}/evidence/export", headers=auth)
    [error] = the_error(no_check, 400, "VALIDATION_FAILED")
    assert "checkId" in error["message"]

    rows = CSV + b"not-an-email,Ann,ACTIVE,,,\nbob@acme.test,Bob,SOMETIMES,,,\n"
    headers = {"content-type": "text/csv", **auth}
    response = await http.post(f"{live.url}/people/import", content=rows, headers=headers)
    errors = the_error(response, 400, "VALIDATION_FAILED", count=2)
    assert [(e["extensions"]["row"], e["extensions"]["column"]) for e in errors] == [
        (2, "email"),
        (3, "status"),
    ]


async def test_not_found_is_404(live: LiveServer, keys: Keys, http: httpx.AsyncClient) -> None:
    for method in ("GET", "POST"):
        the_error(await http.request(method, f"{live.url}/no/such/route"), 404, "NOT_FOUND")
    unknown_check = await http.get(
        f"{live.url}/evidence/export", params={"checkId": "nope"}, headers=bearer(keys.admin)
    )
    the_error(unknown_check, 404, "NOT_FOUND")
    # Production serves no GraphiQL page: a browser's GET /graphql is refused the same way.
    page = await http.get(f"{live.url}/graphql", headers={"accept": "text/html"})
    the_error(page, 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/graphql"),
        ("DELETE", "/graphql"),
        ("GET", "/people/import"),
        ("POST", "/evidence/export"),
        ("POST", "/oauth/confluence/callback"),
        ("POST", "/healthz"),
        ("POST", "/readyz"),
        ("POST", "/metrics"),
    ],
)
async def test_a_wrong_method_is_405(
    live: LiveServer, http: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await http.request(method, f"{live.url}{path}")
    the_error(response, 405, "METHOD_NOT_ALLOWED")
    assert response.headers["allow"]


async def test_role_and_media_type_refusals(
    live: LiveServer, keys: Keys, http: httpx.AsyncClient
) -> None:
    refused = await people_import(http, live.url, keys.viewer)
    the_error(refused, 403, "FORBIDDEN")
    multipart = await http.post(
        f"{live.url}/people/import",
        content=b"--x--",
        headers={"content-type": "multipart/form-data; boundary=x", **bearer(keys.admin)},
    )
    the_error(multipart, 415, "UNSUPPORTED_MEDIA_TYPE")


async def test_an_unexpected_failure_is_500_internal_on_every_route(
    live: LiveServer, keys: Keys, http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object, **kwargs: object) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(live.container.services.evidence, "open_export", broken)
    monkeypatch.setattr(live.container.services.people, "import_csv", broken)
    for send in (evidence_export, people_import):
        response = await send(http, live.url, keys.admin)
        [error] = the_error(response, 500, "INTERNAL")
        assert response.headers["x-request-id"] in error["message"]
        assert "disk on fire" not in response.text
