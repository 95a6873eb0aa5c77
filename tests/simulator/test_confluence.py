"""Confluence endpoints over real HTTP: shapes, pagination edges, caps, visibility."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from simulator import RunningSimulator, Simulator, start_simulator
from tests.simulator.support import basic_client, bearer_client, follow_v1, small_site

POLICY_CQL = 'type = page and label = "policy"'
FULL_EXPAND = "body.storage,version,space,metadata.labels,history"


@pytest.fixture(scope="module")
def edges() -> Iterator[RunningSimulator]:
    """A hand-built site with groups of exactly 0, 1, 200, 201 and 1,000 members."""
    site = small_site(
        {"zero": 0, "one": 1, "two-hundred": 200, "two-hundred-one": 201, "thousand": 1000}
    )
    with start_simulator(Simulator(site)) as served:
        yield served


@pytest.fixture
def admin(running: RunningSimulator) -> Iterator[httpx.Client]:
    with basic_client(running) as client:
        yield client


@pytest.mark.parametrize(
    ("group", "pages"),
    [("zero", 1), ("one", 1), ("two-hundred", 1), ("two-hundred-one", 2), ("thousand", 5)],
)
def test_member_pagination_edges(edges: RunningSimulator, group: str, pages: int) -> None:
    with basic_client(edges) as client:
        walked = follow_v1(client, f"/wiki/rest/api/group/g-{group}/membersByGroupId")
    assert len(walked) == pages
    assert all(p["size"] == len(p["results"]) <= 200 for p in walked)
    assert "next" not in walked[-1]["_links"]
    ids = [u["accountId"] for p in walked for u in p["results"]]
    assert ids == edges.sim.site.groups[f"g-{group}"].member_ids


def test_member_limit_above_200_is_refused(edges: RunningSimulator) -> None:
    """v1 OpenAPI (getGroupMembersByGroupId) and confluence-api.md §5.3: limit ≤ 200, else 400."""
    path = "/wiki/rest/api/group/g-thousand/membersByGroupId"
    with basic_client(edges) as client:
        refused = client.get(path, params={"limit": 201})
        body = client.get(path, params={"limit": 200}).json()
    assert refused.status_code == 400
    assert set(refused.json()) == {"statusCode", "data", "message", "reason"}
    assert body["limit"] == 200 and body["size"] == 200
    assert body["_links"]["next"].startswith("/rest/api/group/g-thousand/membersByGroupId?")
    assert body["_links"]["context"] == "/wiki" and body["_links"]["base"].endswith("/wiki")


def test_member_results_show_hidden_emails_and_account_types(edges: RunningSimulator) -> None:
    with basic_client(edges) as client:
        users = client.get("/wiki/rest/api/group/g-thousand/membersByGroupId").json()["results"]
    site = edges.sim.site
    for user in users:
        account = site.accounts[user["accountId"]]
        assert user["email"] == (account.email if account.email_visible else "")
        assert user["accountType"] == account.account_type
    assert {u["accountType"] for u in users} == {"atlassian", "app", "customer", ""}
    assert sum(u["email"] == "" for u in users) > 50


def test_unknown_group_is_v1_404(admin: httpx.Client) -> None:
    response = admin.get("/wiki/rest/api/group/nope/membersByGroupId")
    assert response.status_code == 404
    assert set(response.json()) == {"statusCode", "data", "message", "reason"}


def test_groups_offset_pagination(running: RunningSimulator, admin: httpx.Client) -> None:
    walked = follow_v1(admin, "/wiki/rest/api/group", limit=10)
    assert [len(p["results"]) for p in walked] == [10, 10, 5]
    names = [g["name"] for p in walked for g in p["results"]]
    assert sorted(names) == sorted(g.name for g in running.sim.site.groups.values())
    capped = admin.get("/wiki/rest/api/group", params={"limit": 5000}).json()
    assert capped["limit"] == 200 and "next" not in capped["_links"]


def test_current_user_admin_and_member(running: RunningSimulator) -> None:
    with basic_client(running) as client:
        me = client.get("/wiki/rest/api/user/current", params={"expand": "operations"}).json()
        plain = client.get("/wiki/rest/api/user/current").json()
    assert me["accountId"] == running.sim.site.operators["admin"]
    assert {"operation": "administer", "targetType": "application"} in me["operations"]
    assert "operations" not in plain
    with basic_client(running, "member") as client:
        member = client.get("/wiki/rest/api/user/current", params={"expand": "operations"}).json()
    assert {"operation": "administer", "targetType": "application"} not in member["operations"]


def _search(client: httpx.Client, **params: str) -> list[dict[str, Any]]:
    return follow_v1(client, "/wiki/rest/api/content/search", **params)


def test_search_follows_cursor_to_ground_truth(
    running: RunningSimulator, admin: httpx.Client
) -> None:
    capped = admin.get(
        "/wiki/rest/api/content/search",
        params={"cql": "type = page", "expand": FULL_EXPAND, "limit": 100},
    ).json()
    assert capped["limit"] == 25 and capped["size"] == 25  # capped lower with body.storage
    walked = _search(admin, cql=POLICY_CQL, expand=FULL_EXPAND, limit="7")
    assert all(p["limit"] == 7 for p in walked)
    ids = [r["id"] for p in walked for r in p["results"]]
    expected = [
        p.page_id
        for p in running.sim.site.iter_pages()
        if "policy" in p.labels and p.status == "current"
    ]
    assert ids == expected and len(walked) > 1
    next_link = walked[0]["_links"]["next"]
    assert "cursor" in parse_qs(urlsplit(next_link).query)


def test_search_cap_without_body_is_50(admin: httpx.Client) -> None:
    body = admin.get(
        "/wiki/rest/api/content/search",
        params={"cql": "type = page", "limit": 500, "expand": "version"},
    ).json()
    assert body["limit"] == 50 and body["size"] == 50


def test_search_expansions(running: RunningSimulator, admin: httpx.Client) -> None:
    full = admin.get(
        "/wiki/rest/api/content/search",
        params={"cql": POLICY_CQL, "expand": FULL_EXPAND, "limit": 5},
    ).json()
    page = full["results"][0]
    truth = running.sim.site.pages[page["id"]]
    assert page["body"]["storage"] == {
        **page["body"]["storage"],
        "value": truth.body,
        "representation": "storage",
    }
    assert page["version"]["number"] == truth.version
    assert page["space"]["key"] == truth.space_key
    assert [lbl["name"] for lbl in page["metadata"]["labels"]["results"]] == truth.labels
    assert page["history"]["createdBy"]["accountId"] == truth.created_by
    assert page["_links"]["webui"].startswith(f"/spaces/{truth.space_key}/pages/{truth.page_id}")
    bare = admin.get(
        "/wiki/rest/api/content/search", params={"cql": POLICY_CQL, "limit": 5}
    ).json()["results"][0]
    for field in ("body", "version", "space", "metadata", "history"):
        assert field not in bare and field in bare["_expandable"]


@pytest.mark.parametrize(
    "cql",
    [
        'label = "policy"',
        'space = "POL"',
        'space = "SEC" and label = "policy"',
        'type = page and label in ("policy", "runbook")',
        'label = policy and status = "archived"',
    ],
)
def test_search_cql_shapes(running: RunningSimulator, admin: httpx.Client, cql: str) -> None:
    ids = [r["id"] for p in _search(admin, cql=cql, limit="50") for r in p["results"]]
    site = running.sim.site
    archived = "archived" in cql
    expected = [
        p.page_id
        for p in site.iter_pages()
        if (p.status == "archived") == archived
        and (
            "label" not in cql
            or "policy" in p.labels
            or ("runbook" in cql and "runbook" in p.labels)
        )
        and ("space" not in cql or p.space_key == cql.split('"')[1])
    ]
    assert ids == expected and ids


def test_search_hides_archived_and_restricted_from_members(running: RunningSimulator) -> None:
    site = running.sim.site
    with basic_client(running, "member") as client:
        ids = {r["id"] for p in _search(client, cql=POLICY_CQL) for r in p["results"]}
    restricted = {p.page_id for p in site.policy_pages() if site.spaces[p.space_key].restricted}
    archived = {p.page_id for p in site.pages.values() if p.status == "archived"}
    assert restricted and not ids & restricted and not ids & archived


def test_search_errors(admin: httpx.Client) -> None:
    assert admin.get("/wiki/rest/api/content/search").status_code == 400
    bad = admin.get("/wiki/rest/api/content/search", params={"cql": "nonsense ~~ x"})
    assert bad.status_code == 400 and bad.json()["statusCode"] == 400
    cursor = admin.get(
        "/wiki/rest/api/content/search", params={"cql": POLICY_CQL, "cursor": "garbage"}
    )
    assert cursor.status_code == 400


def test_users_bulk(running: RunningSimulator, admin: httpx.Client) -> None:
    site = running.sim.site
    ids = list(site.accounts)[:250]
    response = admin.post("/wiki/api/v2/users-bulk", json={"accountIds": [*ids, "unknown"]})
    assert response.status_code == 400  # 251 ids
    body = admin.post("/wiki/api/v2/users-bulk", json={"accountIds": ids}).json()
    assert [u["accountId"] for u in body["results"]] == ids
    hidden = [u for u in body["results"] if not site.accounts[u["accountId"]].visible_email]
    assert {"email" in u for u in hidden} == {True, False}  # absent or empty
    assert all(u.get("email", "") == "" for u in hidden)
    types = {u["accountType"] for u in body["results"]}
    assert {"atlassian", "app", "customer", "unknown"} <= types
    statuses = {u["accountStatus"] for u in body["results"]}
    assert {"active", "inactive", "closed"} <= statuses
    unknown = admin.post("/wiki/api/v2/users-bulk", json={"accountIds": ["nobody"]}).json()
    assert unknown["results"] == []


@pytest.mark.parametrize("payload", [{"accountIds": []}, {}, {"accountIds": "x"}, [1]])
def test_users_bulk_validation(admin: httpx.Client, payload: object) -> None:
    response = admin.post("/wiki/api/v2/users-bulk", json=payload)
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["status"] == 400 and error["code"] and error["title"]


def test_page_by_id(running: RunningSimulator, admin: httpx.Client) -> None:
    page = running.sim.site.policy_pages()[0]
    body = admin.get(f"/wiki/api/v2/pages/{page.page_id}", params={"body-format": "storage"}).json()
    assert body["body"]["storage"] == {"representation": "storage", "value": page.body}
    assert body["version"]["number"] == page.version and body["title"] == page.title
    assert admin.get(f"/wiki/api/v2/pages/{page.page_id}").json()["body"] == {}
    missing = admin.get("/wiki/api/v2/pages/1")
    assert missing.status_code == 404 and missing.json()["errors"][0]["code"] == "NOT_FOUND"
    assert admin.get("/wiki/api/v2/pages/abc").status_code == 400
    assert (
        admin.get(f"/wiki/api/v2/pages/{page.page_id}", params={"body-format": "pdf"}).status_code
        == 400
    )


def test_spaces_cursor_pagination_and_limits(
    running: RunningSimulator, admin: httpx.Client
) -> None:
    response = admin.get("/wiki/api/v2/spaces", params={"limit": 1})
    keys = []
    while True:
        assert response.status_code == 200
        body = response.json()
        keys += [s["key"] for s in body["results"]]
        link = response.headers.get("link")
        if "next" not in body["_links"]:
            assert link is None
            break
        assert f'<{body["_links"]["next"]}>; rel="next"' in link
        response = admin.get(body["_links"]["next"])
    assert keys == [
        s.key for s in sorted(running.sim.site.spaces.values(), key=lambda s: int(s.space_id))
    ]
    for limit in (0, 251, "x"):
        assert admin.get("/wiki/api/v2/spaces", params={"limit": limit}).status_code == 400
    assert admin.get("/wiki/api/v2/spaces", params={"limit": 250}).status_code == 200


def test_gateway_base_serves_the_same_data(running: RunningSimulator, admin: httpx.Client) -> None:
    token = running.sim.issue_access_token()["access_token"]
    with bearer_client(running, token) as client:
        via_gateway = client.get("/wiki/rest/api/group", params={"limit": 200}).json()
    direct = admin.get("/wiki/rest/api/group", params={"limit": 200}).json()
    assert via_gateway["results"] == direct["results"]
    assert via_gateway["_links"]["base"] == f"{running.site_url()}/wiki"


def test_unknown_paths_are_json_404(admin: httpx.Client) -> None:
    v1 = admin.get("/wiki/rest/api/nothing")
    assert v1.status_code == 404 and v1.headers["content-type"].startswith("application/json")
