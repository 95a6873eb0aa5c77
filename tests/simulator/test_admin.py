"""Atlassian Admin API: org directory search, MFA semantics, and who may call it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
import pytest

from simulator import RunningSimulator, Simulator, generate_site


def _url(running: RunningSimulator, org: str | None = None) -> str:
    org = org or running.sim.credentials.org_id
    return f"{running.api_url}/admin/v2/orgs/{org}/directories/-/users/search"


def _search(
    running: RunningSimulator, key: str, body: dict[str, Any], org: str | None = None
) -> httpx.Response:
    return httpx.post(_url(running, org), json=body, headers={"Authorization": f"Bearer {key}"})


def _all_users(running: RunningSimulator, **body: Any) -> list[dict[str, Any]]:
    key = running.sim.credentials.admin_api_key
    users: list[dict[str, Any]] = []
    cursor = None
    while True:
        response = _search(running, key, {"limit": 100, "cursor": cursor, **body})
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["data"]) <= 100
        users += page["data"]
        cursor = page["links"].get("next")
        if cursor is None:
            assert "next" not in page["links"]  # absent on the last page (§5.8)
            break
    return users


def test_directory_search_pages_through_every_user(running: RunningSimulator) -> None:
    users = _all_users(running)
    site = running.sim.site
    expected = [
        a
        for a in site.accounts.values()
        if a.account_type == "atlassian" and a.account_status != "unknown"
    ]
    assert [u["accountId"] for u in users] == [a.account_id for a in expected]
    for user, account in zip(users, expected, strict=True):
        if site.is_managed(account):
            assert user["claimStatus"] == "managed"
            assert user["mfaEnabled"] is account.mfa_enabled
        else:
            assert user["claimStatus"] == "unmanaged"
            assert user["mfaEnabled"] is False  # what Atlassian answers for unmanaged accounts
        assert user["email"] == account.email  # the org admin sees hidden emails too
        assert user["accountStatus"] == account.account_status
        composite = {"active": "active", "inactive": "deactivated", "closed": "deactivated"}
        assert user["status"] == composite[account.account_status]
        # Only with expand: never lastActive, productAccess or platformRoles (§5.8).
        assert not {"lastActive", "productAccess", "platformRoles"} & set(user)
    assert {u["claimStatus"] for u in users} == {"managed", "unmanaged"}


def test_product_access_only_when_expanded(running: RunningSimulator) -> None:
    site = running.sim.site
    users = _all_users(running, expand=["productAccess"])
    for user in users:
        assert "platformRoles" not in user
        account = site.accounts[user["accountId"]]
        confluence = [
            e
            for e in user["productAccess"]
            if e["key"] == "confluence" and e["id"] == site.cloud_id
        ]
        # An entry for the site where the account holds a Confluence access role (through a
        # group or directly: confluence-api.md §5.9), none elsewhere.
        assert len(confluence) == (1 if site.holds_access_role(account.account_id) else 0)
        if confluence:
            stamp = confluence[0]["lastActiveTimestamp"]
            assert (stamp is None) == (account.last_active is None)
    assert any(e["key"] != "confluence" for u in users for e in u["productAccess"])
    roles = _all_users(running, expand=["platformRoles"])
    assert all("platformRoles" in u and "productAccess" not in u for u in roles)


def test_limit_defaults_to_50_and_is_capped(running: RunningSimulator) -> None:
    key = running.sim.credentials.admin_api_key
    assert len(_search(running, key, {}).json()["data"]) == 50
    body = _search(running, key, {"limit": 1000}).json()
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


def test_directory_is_built_once_for_all_its_pages_and_rebuilt_after_a_change() -> None:
    """Paging through the directory must not rebuild it per page (quadratic at 50k users);
    any change to a site's accounts shows on the next page read."""
    sim = Simulator(generate_site(users=400, groups=10, pages=5, seed=3))
    site = sim.site
    reads = 0
    values = site.accounts.values

    def counting_values() -> Any:
        nonlocal reads
        reads += 1
        return values()

    site.accounts.values = counting_values  # type: ignore[method-assign]
    listed: list[str] = []
    offset, total = 0, None
    while total is None or offset < total:
        chunk, total = sim.directory_page(offset, 20)
        listed += [a.account_id for _, a in chunk]
        offset += 20
    assert total > 200 and len(listed) == total == len(set(listed))
    assert reads == 1

    # Every kind of change is seen: status out of the enum, a new account, a replaced one.
    gone = listed[0]
    site.set_account_status(gone, "unknown")
    assert sim.directory_account(gone) is None and sim.directory_page(0, 1)[1] == total - 1
    newcomer = replace(site.accounts[listed[1]], account_id="new-account")
    site.add_account(newcomer)
    assert sim.directory_account("new-account") is not None
    site.accounts[listed[2]] = replace(site.accounts[listed[2]], account_type="app")
    assert sim.directory_account(listed[2]) is None
    assert reads == 4
    assert [a.account_id for _, a in sim.directory_accounts()] == [
        a.account_id
        for a in values()
        if a.account_type == "atlassian" and a.account_status in ("active", "inactive", "closed")
    ]
