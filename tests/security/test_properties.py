"""Property-based: whatever a caller sends, no 5xx, no "internal error", no partial write.

Every mutation of the schema gets hypothesis-generated variables of the right GraphQL
types (any text, huge and negative numbers, odd dates, unknown and real ids); the HTTP
routes get arbitrary bodies and query strings. Examples are bounded to keep the suite fast.
Atlassian is unreachable (every outgoing request fails), so no example leaves the machine.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from testkit.live import LiveServer, live_server
from tests.security.schema_calls import Operation, operations

EXAMPLES = settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
MUTATIONS = [op for op in operations() if op.kind == "mutation"]
TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", " ", "x" * 5000, "\x00", "é\u202e", "acme.atlassian.net:99999"]),
)
URLS = st.one_of(
    st.sampled_from(
        [
            "acme.atlassian.net:abc",
            "acme.atlassian.net:99999",
            "http://[::1",
            "acme\n.atlassian.net",
            "https:evil.com",
            "https://acme.atlassian.net/wiki/",
            "http://169.254.169.254/latest",
        ]
    ),
    TEXT,
)
IDS = st.one_of(TEXT, st.sampled_from(["int_0", "evd_1", "acc-1", "confluence-document-setup"]))


@dataclass
class Target:
    live: LiveServer
    http: httpx.AsyncClient
    key: str
    org: str


@pytest.fixture(scope="module")
async def target() -> AsyncIterator[Target]:
    async with live_server(rate_limit_per_minute=1_000_000, allow_insecure_urls=False) as live:

        def unreachable(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("no network in property tests", request=request)

        live.container.http._transport = httpx.MockTransport(unreachable)
        org, created = await live.container.services.organizations.create_organization("Props")
        async with httpx.AsyncClient(timeout=60) as http:
            yield Target(live, http, created.secret, org.id)


def values(type_: GraphQLInputType, name: str = "", *, null: bool = True) -> st.SearchStrategy[Any]:
    """Any value GraphQL accepts for ``type_`` (so the resolver, not validation, sees it).

    Fields named like a URL or domain get hostile URLs more often than chance would.
    """
    if isinstance(type_, GraphQLNonNull):
        return values(type_.of_type, name, null=False)
    strategy: st.SearchStrategy[Any]
    if isinstance(type_, GraphQLList):
        strategy = st.lists(values(type_.of_type, name), max_size=3)
    elif isinstance(type_, GraphQLScalarType):
        if type_.name == "String" and name.lower().endswith(("domain", "url")):
            strategy = URLS
        elif type_.name == "Boolean" and name.startswith("confirm"):
            strategy = st.just(True)  # past the confirmation, into the interesting checks
        else:
            strategy = _scalar(type_.name)
    elif isinstance(type_, GraphQLEnumType):
        strategy = st.sampled_from(list(type_.values))
    else:
        assert isinstance(type_, GraphQLInputObjectType)
        fields = type_.fields.items()
        required = {n: values(f.type, n) for n, f in fields if _non_null(f.type)}
        optional = {n: values(f.type, n) for n, f in fields if not _non_null(f.type)}
        strategy = st.fixed_dictionaries(required, optional=optional)
    return st.one_of(st.none(), strategy) if null else strategy


def _non_null(type_: Any) -> bool:
    return isinstance(type_, GraphQLNonNull)


def _scalar(name: str) -> st.SearchStrategy[Any]:
    if name == "ID":
        return IDS
    if name == "Int":
        return st.integers(min_value=-(2**31), max_value=2**31 - 1)
    if name == "Float":
        return st.floats(allow_nan=False, allow_infinity=False)
    if name == "Boolean":
        return st.booleans()
    if name == "DateTime":
        return st.one_of(
            st.datetimes(timezones=st.just(__import__("datetime").UTC)).map(
                lambda d: d.isoformat()
            ),
            st.sampled_from(["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"]),
        )
    if name == "Date":
        return st.dates().map(lambda d: d.isoformat())
    if name == "JSON":
        return st.dictionaries(st.text(max_size=5), st.integers(), max_size=3)
    return TEXT


def _arguments(op: Operation) -> st.SearchStrategy[dict[str, Any]]:
    args = op.field.args
    required = {n: values(a.type, n) for n, a in args.items() if _non_null(a.type)}
    optional = {n: values(a.type, n) for n, a in args.items() if not _non_null(a.type)}
    return st.fixed_dictionaries(required, optional=optional)


async def _fingerprint(target: Target) -> str:
    """Every stored document (API keys aside: authenticating touches them), once the server
    is idle.

    The checks a previous example's change re-evaluates are stored in the background (their
    ``evaluated_at`` moves even when nothing else does): taken while that runs, the
    fingerprint changed under a failing mutation now and then. Settled before both
    fingerprints, a failing mutation that sets off background writes fails every time.
    """
    await target.live.settled()
    db = target.live.container.store._db
    digest = hashlib.sha256()
    for name in sorted(await db.list_collection_names()):
        if name == "api_keys":
            continue
        async for doc in db[name].find({}).sort("_id", 1):
            digest.update(json.dumps(doc, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def examples(strategy: st.SearchStrategy[Any], count: int = 12) -> list[Any]:
    """Hypothesis-generated values, drawn up front.

    The server runs in the test's event loop, which hypothesis cannot drive; the examples
    are drawn (deterministically, ``derandomize``) and then sent one by one.
    """
    drawn: list[Any] = []

    @settings(EXAMPLES, max_examples=count)
    @given(strategy)
    def collect(value: Any) -> None:
        drawn.append(value)

    collect()
    return drawn


@pytest.mark.parametrize("op", MUTATIONS, ids=lambda op: op.name)
async def test_mutations_never_fail_inside_and_never_half_write(
    target: Target, op: Operation
) -> None:
    for variables in examples(_arguments(op)):
        # An earlier success (e.g. activateFrameworks) re-evaluates checks in the background:
        # let that finish, so its writes are not taken for this operation's.
        await target.live.container.reevaluator.settle()
        before = await _fingerprint(target)
        resp = await target.http.post(
            target.live.graphql_url,
            json={"query": op.document(), "variables": variables},
            headers={"Authorization": f"Bearer {target.key}"},
        )
        assert resp.status_code < 500, resp.text
        body = resp.json()
        assert "internal error" not in resp.text, (op.name, variables, body)
        payload = (body.get("data") or {}).get(op.name)
        if body.get("errors") or (payload and payload.get("userErrors")):
            assert await _fingerprint(target) == before, ("partial write", op.name, variables)


ROUTES = st.sampled_from(
    [
        ("POST", "/graphql"),
        ("POST", "/people/import"),
        ("GET", "/evidence/export"),
        ("GET", "/oauth/confluence/callback"),
        ("GET", "/graphql"),
    ]
)


REQUESTS = st.tuples(
    ROUTES,
    st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)),
    st.dictionaries(
        st.sampled_from(["checkId", "format", "state", "code", "error", "query"]),
        st.text(max_size=30),
        max_size=3,
    ),
    st.booleans(),
    st.sampled_from(["application/json", "text/csv", "text/plain", ""]),
)


async def test_http_routes_never_answer_5xx(target: Target) -> None:
    for route, body, params, authenticated, content_type in examples(REQUESTS, 80):
        method, path = route
        headers = {"content-type": content_type} if content_type else {}
        if authenticated:
            headers["Authorization"] = f"Bearer {target.key}"
        resp = await target.http.request(
            method,
            target.live.url + path,
            params=params,
            content=body if method == "POST" else None,
            headers=headers,
        )
        assert resp.status_code < 500, (route, resp.status_code, resp.text[:300])
        assert "internal error" not in resp.text
