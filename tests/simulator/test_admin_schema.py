"""Admin API conformance: the simulator's directory search answers validate against a JSON
schema written from confluence-api.md §5.8 (``schemas/admin_users_search.json``; Atlassian
publishes no OpenAPI description of the Admin API in ``atlassian-openapi/``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator, FormatChecker

from simulator import RunningSimulator

SCHEMA = json.loads((Path(__file__).parent / "schemas" / "admin_users_search.json").read_text())
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=FormatChecker())


def _pages(running: RunningSimulator, body: dict[str, Any]) -> list[dict[str, Any]]:
    creds = running.sim.credentials
    url = f"{running.api_url}/admin/v2/orgs/{creds.org_id}/directories/-/users/search"
    headers = {"Authorization": f"Bearer {creds.admin_api_key}"}
    pages, cursor = [], None
    while True:
        response = httpx.post(url, json={**body, "cursor": cursor}, headers=headers)
        assert response.status_code == 200, response.text
        pages.append(response.json())
        cursor = pages[-1]["links"].get("next")
        if cursor is None:
            return pages


def _problems(page: Any) -> list[str]:
    return [
        f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message[:200]}"
        for e in VALIDATOR.iter_errors(page)
    ]


@pytest.mark.parametrize(
    "expand", [[], ["productAccess"], ["platformRoles"], ["productAccess", "platformRoles"]]
)
def test_directory_search_matches_section_5_8(running: RunningSimulator, expand: list[str]) -> None:
    pages = _pages(running, {"limit": 100, "expand": expand})
    assert len(pages) > 1
    for page in pages:
        assert _problems(page) == []
        for user in page["data"]:
            for field in ("productAccess", "platformRoles"):
                assert (field in user) == (field in expand), (field, expand)


def test_the_schema_catches_the_old_shapes() -> None:
    """The schema is not vacuous: the simulator's former answers fail it."""
    old_user = {"accountId": "a", "accountType": "atlassian", "accountStatus": "active",
                "status": "active", "claimStatus": "managed", "lastActive": "2026-01-01T00:00:00Z"}  # fmt: skip
    assert _problems({"data": [old_user], "links": {}})
    no_claim = {k: v for k, v in old_user.items() if k not in ("lastActive", "claimStatus")}
    assert _problems({"data": [no_claim], "links": {}})
    assert _problems({"data": [{**no_claim, "claimStatus": "managed", "status": "x"}], "links": {}})
    assert _problems({"data": [], "links": {"next": ""}})
    assert _problems({"data": [{**no_claim, "claimStatus": "managed"}], "links": {}}) == []
