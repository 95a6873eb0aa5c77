"""Every Confluence endpoint's responses validate against Atlassian's OpenAPI schemas."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx

from simulator import RunningSimulator
from tests.simulator.openapi import validation_errors
from tests.simulator.support import basic_client, bearer_client

EXPANSIONS = ("", "version", "space,history", "body.storage,version,space,metadata.labels,history")


def _calls(running: RunningSimulator) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """(method, spec path, request path, request kwargs) covering each endpoint's variants."""
    site = running.sim.site
    yield "GET", "/wiki/rest/api/user/current", "/wiki/rest/api/user/current", {}
    yield (
        "GET",
        "/wiki/rest/api/user/current",
        "/wiki/rest/api/user/current",
        {"params": {"expand": "operations"}},
    )
    for limit in (1, 200):
        yield "GET", "/wiki/rest/api/group", "/wiki/rest/api/group", {"params": {"limit": limit}}
    members = "/wiki/rest/api/group/{groupId}/membersByGroupId"
    for group in site.groups.values():
        for start in range(0, max(1, len(group.member_ids)), 200):
            yield (
                "GET",
                members,
                members.format(groupId=group.group_id),
                {"params": {"start": start}},
            )
    memberof = "/wiki/rest/api/user/memberof"
    for account_id in list(site.accounts)[:10]:
        yield "GET", memberof, memberof, {"params": {"accountId": account_id}}
    yield "GET", memberof, memberof, {"params": {"accountId": site.operators["admin"], "limit": 1}}
    for expand in EXPANSIONS:
        for cql in (
            'type = page and label = "policy"',
            'label = "policy" and status = archived',
            'space = "ENG"',
            'label = "no-such-label"',
        ):
            yield (
                "GET",
                "/wiki/rest/api/content/search",
                "/wiki/rest/api/content/search",
                {"params": {"cql": cql, "expand": expand, "limit": 50}},
            )
    ids = list(site.accounts)
    for start in range(0, len(ids), 250):
        yield (
            "POST",
            "/wiki/api/v2/users-bulk",
            "/wiki/api/v2/users-bulk",
            {"json": {"accountIds": ids[start : start + 250]}},
        )
    for page_id in list(site.pages)[:40]:
        for fmt in ("storage", "", "atlas_doc_format"):
            params = {"body-format": fmt, "include-labels": "true"} if fmt else {}
            yield (
                "GET",
                "/wiki/api/v2/pages/{id}",
                f"/wiki/api/v2/pages/{page_id}",
                {"params": params},
            )
    for limit in (1, 250):
        yield "GET", "/wiki/api/v2/spaces", "/wiki/api/v2/spaces", {"params": {"limit": limit}}


def _check(client: httpx.Client, running: RunningSimulator) -> int:
    problems: list[str] = []
    checked = 0
    for method, spec_path, path, kwargs in _calls(running):
        response = client.request(method, path, **kwargs)
        assert response.status_code == 200, f"{method} {path}: {response.text[:300]}"
        assert response.headers["content-type"].startswith("application/json")
        problems += validation_errors(method, spec_path, response.json())
        checked += 1
    assert not problems, "\n".join(problems[:40])
    return checked


def test_responses_match_openapi_via_api_token(running: RunningSimulator) -> None:
    with basic_client(running) as client:
        assert _check(client, running) > 100


def test_responses_match_openapi_via_oauth(running: RunningSimulator) -> None:
    token = running.sim.issue_access_token()["access_token"]
    with bearer_client(running, token) as client:
        assert _check(client, running) > 100


def test_validator_names_path_and_field() -> None:
    bad = {"results": [{"type": "group"}], "start": 0, "limit": 1, "size": "one", "_links": {}}
    problems = validation_errors("GET", "/wiki/rest/api/group", bad)
    assert any("field results/0" in p and "'name' is a required property" in p for p in problems)
    assert any("GET /wiki/rest/api/group [200] field size" in p for p in problems)
