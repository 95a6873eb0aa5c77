"""Atlassian Admin API: org directory search, MFA semantics, and who may call it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from simulator import RunningSimulator


def _url(running: RunningSimulator, org: str | None = None) -> str:
    org = org or running.sim.credentials.org_id
    return f"{running.api_url}/admin/v2/orgs/{org}/directories/-/users/search"


def _search(
    running: RunningSimulator, key: str, body: dict[str, Any], org: str | None = None
) -> httpx.Response:
    return httpx.post(_url(running, org), json=body, headers={"Authorization": f"Bearer {key}"})


def test_directory_search_pages_through_every_user(running: RunningSimulator) -> None:
    key = running.sim.credentials.admin_api_key
    users: list[dict[str, Any]] = []
    cursor = None
    while True:
        response = _search(running, key, {"limit": 100, "cursor": cursor})
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["data"]) <= 100
        users += body["data"]
        cursor = body["links"]["next"]
        if cursor is None:
            break
    site = running.sim.site
    expected = [a for a in site.accounts.values() if a.account_type == "atlassian"]
    assert [u["accountId"] for u in users] == [a.account_id for a in expected]
    for user, account in zip(users, expected, strict=True):
        if site.is_managed(account):
            assert user["mfaEnabled"] is account.mfa_enabled
        else:
            assert user.get("mfaEnabled") is None
        assert user["email"] == account.email  # the org admin sees hidden emails too
        assert user["accountStatus"] == account.account_status
    assert {"mfaEnabled" in u for u in users if u.get("mfaEnabled") is None} == {True, False}
    assert any("lastActive" in u for u in users)


def test_limit_is_capped(running: RunningSimulator) -> None:
    body = _search(running, running.sim.credentials.admin_api_key, {"limit": 1000}).json()
    assert len(body["data"]) == 100 and body["links"]["next"]


@pytest.mark.parametrize("who", ["oauth", "api_token", "wrong_key", "wrong_org", "none"])
def test_only_the_org_admin_key_is_accepted(running: RunningSimulator, who: str) -> None:
    creds = running.sim.credentials
    if who == "api_token":
        response = httpx.post(
            _url(running),
            json={"limit": 10},
            auth=(creds.admin_token.email, creds.admin_token.token),
        )
    elif who == "none":
        response = httpx.post(_url(running), json={"limit": 10})
    else:
        key = {
            "oauth": running.sim.issue_access_token()["access_token"],
            "wrong_key": "ATCTT-nope",
            "wrong_org": creds.admin_api_key,
        }[who]
        response = _search(running, key, {"limit": 10}, "other-org" if who == "wrong_org" else None)
    assert response.status_code == 401
    assert response.json()["code"] == 401
