"""ConfluenceClient request shapes, parsing and pagination, against a strict MockTransport."""

from __future__ import annotations

from typing import Any

import httpx
import jsonschema
import pytest

from services.confluence import paths
from services.confluence.auth import BearerAuth
from services.confluence.client import ConfluenceClient
from services.confluence.retry import RetryPolicy
from services.models import AccountStatus, AccountType
from tests.simulator.openapi import v2_request_body_schema

from .support import BASE, Router, body_of, make_client


def _member(i: int, email: str = "") -> dict[str, Any]:
    return {"type": "known", "accountId": f"acc-{i}", "accountType": "atlassian", "email": email,
            "publicName": f"P{i}", "displayName": f"User {i}"}  # fmt: skip


async def test_every_request_accepts_json_and_authenticates(
    router: Router, client: ConfluenceClient
) -> None:
    router.json("GET", paths.CURRENT_USER, {"accountId": "me", "displayName": "Me"})
    await client.current_user()
    request = router.requests[0]
    assert request.headers["accept"] == "application/json"
    assert request.headers["authorization"].startswith("Basic ")
    assert request.url.params["expand"] == "operations"


async def test_current_user(router: Router, client: ConfluenceClient) -> None:
    router.json(
        "GET",
        paths.CURRENT_USER,
        {
            "accountId": "me",
            "accountType": "atlassian",
            "displayName": "Me",
            "email": "",
            "operations": [{"operation": "administer", "targetType": "application"}],
        },
    )
    user = await client.current_user()
    assert (user.account_id, user.email, user.is_admin) == ("me", None, True)


async def test_list_groups_follows_v1_next_relative_to_context(
    router: Router, client: ConfluenceClient
) -> None:
    def groups(request: httpx.Request) -> httpx.Response:
        start = int(request.url.params["start"])
        links: dict[str, str] = {"base": f"{BASE}/wiki", "context": "/wiki"}
        if start == 0:
            links["next"] = "/rest/api/group?start=200&limit=200"
        results = [{"type": "group", "id": f"g{start}", "name": f"group-{start}"}]
        return httpx.Response(200, json={"results": results, "start": start, "_links": links})

    router.add("GET", paths.GROUPS, groups)
    first = await client.list_groups()
    assert [g.name for g in first.items] == ["group-0"]
    assert first.next_cursor == "/wiki/rest/api/group?start=200&limit=200"
    assert router.requests[0].url.params["start"] == "0"
    assert router.requests[0].url.params["limit"] == "200"

    second = await client.list_groups(first.next_cursor)
    assert str(router.requests[1].url) == f"{BASE}/wiki/rest/api/group?start=200&limit=200"
    assert [g.id for g in second.items] == ["g200"]
    assert second.next_cursor is None


async def test_list_group_members(router: Router, client: ConfluenceClient) -> None:
    path = paths.GROUP_MEMBERS.format(group_id="g 1/x")
    router.json(
        "GET",
        "/wiki/rest/api/group/g 1/x/membersByGroupId",
        {"results": [_member(1, "a@x.test"), _member(2)], "_links": {"context": "/wiki"}},
    )
    page = await client.list_group_members("g 1/x", limit=50)
    assert [(m.account_id, m.email) for m in page.items] == [("acc-1", "a@x.test"), ("acc-2", None)]
    assert page.next_cursor is None
    raw_path = router.requests[0].url.raw_path.decode()
    assert raw_path.startswith("/wiki/rest/api/group/g%201%2Fx/membersByGroupId?")
    assert router.requests[0].url.params["limit"] == "50"
    assert path  # the template formats with any id


@pytest.mark.parametrize("limit", [0, 201])
async def test_member_limit_bounds(client: ConfluenceClient, limit: int) -> None:
    with pytest.raises(ValueError, match="limit"):
        await client.list_group_members("g1", limit=limit)


@pytest.mark.parametrize(
    "cursor",
    [
        "https://evil.example/wiki/rest/api/group?start=200",
        "//evil.example/wiki/rest/api/group?start=200",
        "/wiki/rest/api/content/search?cursor=x",
        "/wiki/rest/api/group/other/membersByGroupId?start=200",
    ],
)
async def test_foreign_cursor_is_refused_before_any_request(
    router: Router, client: ConfluenceClient, cursor: str
) -> None:
    with pytest.raises(ValueError, match="cursor"):
        await client.list_group_members("g1", cursor=cursor)
    assert router.requests == []


async def test_search_content(router: Router, client: ConfluenceClient) -> None:
    content = {
        "id": "123",
        "type": "page",
        "status": "current",
        "title": "Policy",
        "space": {"key": "POL", "name": "Policies"},
        "_links": {"webui": "/spaces/POL/pages/123/Policy"},
    }
    nxt = "/rest/api/content/search?cql=label%3Dpolicy&limit=50&cursor=raNDoMsTRiNg"
    router.json(
        "GET",
        paths.CONTENT_SEARCH,
        {
            "results": [content],
            "size": 1,
            "_links": {"base": f"{BASE}/wiki", "context": "/wiki", "next": nxt},
        },
    )
    page = await client.search_content('type = page and label = "policy"')
    params = router.requests[0].url.params
    assert params["cql"] == 'type = page and label = "policy"'
    assert params["limit"] == "50"
    assert params["expand"] == "body.storage,version,space,metadata.labels,history"
    assert page.items[0].web_url == f"{BASE}/wiki/spaces/POL/pages/123/Policy"
    assert page.next_cursor == "/wiki" + nxt

    await client.search_content("ignored when a cursor is given", cursor=page.next_cursor)
    assert router.requests[1].url.params["cursor"] == "raNDoMsTRiNg"
    assert router.requests[1].url.params["cql"] == "label=policy"


async def test_users_bulk_request_matches_atlassian_openapi(
    router: Router, client: ConfluenceClient
) -> None:
    router.json(
        "POST",
        paths.USERS_BULK,
        {
            "results": [
                {"accountId": "a1", "accountType": "app", "accountStatus": "active", "email": ""},
                {"accountId": "a2", "accountType": "new", "accountStatus": "closed"},
            ]
        },
    )
    users = await client.users_bulk(["a1", "a2"])
    assert [(u.account_type, u.account_status, u.email) for u in users] == [
        (AccountType.APP, AccountStatus.ACTIVE, None),
        (AccountType.UNKNOWN, AccountStatus.CLOSED, None),
    ]
    request = router.requests[0]
    assert request.headers["content-type"] == "application/json"
    schema = _bulk_request_schema()
    jsonschema.validate(body_of(request), schema)
    assert body_of(request) == {"accountIds": ["a1", "a2"]}


def test_bulk_schema_rejects_what_the_client_refuses() -> None:
    schema = _bulk_request_schema()
    for bad in ({"accountIds": []}, {"accountIds": [f"a{i}" for i in range(251)]}, {}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


@pytest.mark.parametrize("count", [0, 251])
async def test_users_bulk_bounds(router: Router, client: ConfluenceClient, count: int) -> None:
    with pytest.raises(ValueError, match="1 to 250"):
        await client.users_bulk([f"a{i}" for i in range(count)])
    assert router.requests == []


@pytest.mark.parametrize("count", [1, 250])
async def test_users_bulk_accepts_edges(
    router: Router, client: ConfluenceClient, count: int
) -> None:
    router.json("POST", paths.USERS_BULK, {"results": []})
    assert await client.users_bulk([f"a{i}" for i in range(count)]) == []
    jsonschema.validate(body_of(router.requests[0]), _bulk_request_schema())


async def test_users_bulk_rejects_empty_ids(client: ConfluenceClient) -> None:
    with pytest.raises(ValueError, match="non-empty"):
        await client.users_bulk(["a1", ""])


async def test_get_page(router: Router, client: ConfluenceClient) -> None:
    router.json("GET", "/wiki/api/v2/pages/123", {"id": "123", "title": "T", "status": "current"})
    page = await client.get_page("123")
    assert page.title == "T"
    params = router.requests[0].url.params
    assert params["body-format"] == "storage"
    assert params["include-labels"] == "true"


def _spaces(request: httpx.Request, link: str | None, body_next: str | None) -> httpx.Response:
    headers = {"Link": f'<{link}>; rel="next"'} if link else {}
    links = {"next": body_next} if body_next else {}
    body = {"results": [{"id": "1", "key": "POL", "name": "Policies"}], "_links": links}
    return httpx.Response(200, headers=headers, json=body)


@pytest.mark.parametrize(
    ("link", "body_next", "expected"),
    [
        (
            "/wiki/api/v2/spaces?cursor=c2&limit=250",
            None,
            "/wiki/api/v2/spaces?cursor=c2&limit=250",
        ),
        (f"{BASE}/wiki/api/v2/spaces?cursor=c2", None, "/wiki/api/v2/spaces?cursor=c2"),
        (None, "/wiki/api/v2/spaces?cursor=c3", "/wiki/api/v2/spaces?cursor=c3"),
        (None, None, None),
    ],
)
async def test_list_spaces_v2_pagination(
    router: Router,
    client: ConfluenceClient,
    link: str | None,
    body_next: str | None,
    expected: str | None,
) -> None:
    router.add("GET", paths.SPACES, lambda r: _spaces(r, link, body_next))
    page = await client.list_spaces()
    assert page.items[0].key == "POL"
    assert page.next_cursor == expected
    assert router.requests[0].url.params["limit"] == "250"
    if expected:
        await client.list_spaces(expected)
        assert str(router.requests[1].url) == BASE + expected


async def test_gateway_base_url_and_cursor(
    router: Router, http: httpx.AsyncClient, policy: RetryPolicy
) -> None:
    gateway = "https://api.atlassian.com/ex/confluence/cloud-1"
    client = ConfluenceClient(http, gateway + "/", BearerAuth("at-SECRET"), policy)
    link = f"{gateway}/wiki/api/v2/spaces?cursor=zz"
    router.add("GET", "/ex/confluence/cloud-1" + paths.SPACES, lambda r: _spaces(r, link, None))
    page = await client.list_spaces(limit=10)
    assert page.next_cursor == "/wiki/api/v2/spaces?cursor=zz"
    await client.list_spaces(page.next_cursor)
    assert str(router.requests[1].url) == f"{gateway}/wiki/api/v2/spaces?cursor=zz"
    assert router.requests[1].headers["authorization"] == "Bearer at-SECRET"


async def test_tenant_info_sends_no_credential(router: Router, client: ConfluenceClient) -> None:
    router.json("GET", paths.TENANT_INFO, {"cloudId": "cloud-123"})
    assert await client.tenant_info("https://other.atlassian.net/?x=1#top") == "cloud-123"
    request = router.requests[0]
    assert str(request.url) == "https://other.atlassian.net/_edge/tenant_info"
    assert "authorization" not in request.headers
    assert request.headers["accept"] == "application/json"


@pytest.mark.parametrize("site", ["other.atlassian.net", "ftp://x", ""])
async def test_tenant_info_requires_http_url(client: ConfluenceClient, site: str) -> None:
    with pytest.raises(ValueError, match="http"):
        await client.tenant_info(site)


def test_client_repr_has_no_credentials(http: httpx.AsyncClient, policy: RetryPolicy) -> None:
    client = make_client(http, policy)
    assert "tok-SECRET-1" not in repr(client)
    assert repr(client) == f"ConfluenceClient(base_url={BASE!r})"


def _bulk_request_schema() -> dict[str, Any]:
    return v2_request_body_schema("/users-bulk")
