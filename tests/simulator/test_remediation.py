"""The simulator's remediation write (issue 16): DELETE /wiki/rest/api/group/userByGroupId
with Atlassian's auth and permission rules, changing the site so later reads see it."""

from __future__ import annotations

import httpx

from simulator import VIGIL_SCOPES, RunningSimulator
from tests.simulator.support import basic_client, bearer_client

REMOVE = "/wiki/rest/api/group/userByGroupId"
ROUTE = f"DELETE {REMOVE}"


def _member(running: RunningSimulator, *, in_directory: bool = False) -> tuple[str, str]:
    """A group member who is not one of the simulator's operators (and, when asked, who is in
    the organization directory: `atlassian` accounts with a status the Admin API knows)."""
    site = running.sim.site
    operators = set(site.operators.values())
    for group in sorted(site.groups.values(), key=lambda g: g.group_id):
        for account_id in sorted(group.member_ids):
            if account_id in operators:
                continue
            if in_directory and running.sim.directory_account(account_id) is None:
                continue
            return group.group_id, account_id
    raise AssertionError("no member")


def test_a_site_admin_removes_a_member_and_204_again_when_not_a_member(
    running: RunningSimulator,
) -> None:
    group_id, account_id = _member(running)
    params = {"groupId": group_id, "accountId": account_id}
    with basic_client(running) as client:
        first = client.delete(REMOVE, params=params)
        second = client.delete(REMOVE, params=params)
        members = client.get(f"/wiki/rest/api/group/{group_id}/membersByGroupId").json()
    assert (first.status_code, first.content) == (204, b"")
    assert second.status_code == 204  # not a member any more: still 204
    assert account_id not in [m["accountId"] for m in members["results"]]
    assert running.sim.counters.writes() == 2
    assert running.sim.counters.count(ROUTE, 204) == 2


def test_non_admins_get_403_unknown_groups_404_and_missing_parameters_400(
    running: RunningSimulator,
) -> None:
    group_id, account_id = _member(running)
    with basic_client(running, role="member") as client:
        refused = client.delete(REMOVE, params={"groupId": group_id, "accountId": account_id})
    with basic_client(running) as client:
        unknown = client.delete(REMOVE, params={"groupId": "nope", "accountId": account_id})
        missing = client.delete(REMOVE, params={"groupId": group_id})
    assert refused.status_code == 403
    assert unknown.status_code == 404 and "No group found" in unknown.json()["message"]
    assert missing.status_code == 400
    assert account_id in running.sim.site.groups[group_id].member_ids


def test_an_oauth_token_needs_write_confluence_groups(running: RunningSimulator) -> None:
    group_id, account_id = _member(running)
    params = {"groupId": group_id, "accountId": account_id}
    read_only = running.sim.issue_access_token(list(VIGIL_SCOPES))
    with bearer_client(running, read_only["access_token"]) as client:
        response = client.delete(REMOVE, params=params)
    assert response.status_code == 401
    assert response.json() == {"code": 401, "message": "Unauthorized; scope does not match"}
    assert account_id in running.sim.site.groups[group_id].member_ids

    writer = running.sim.issue_access_token([*VIGIL_SCOPES, "write:confluence-groups"])
    with bearer_client(running, writer["access_token"]) as client:
        assert client.delete(REMOVE, params=params).status_code == 204
    assert account_id not in running.sim.site.groups[group_id].member_ids


def test_admin_api_suspends_and_restores_an_accounts_directory_access(
    running: RunningSimulator,
) -> None:
    creds = running.sim.credentials
    org = creds.org_id
    _, account_id = _member(running, in_directory=True)
    base = f"{running.api_url}/admin/v2/orgs/{org}"
    headers = {"Authorization": f"Bearer {creds.admin_api_key}"}
    with httpx.Client(headers=headers, timeout=10) as client:
        found = client.get(f"{base}/directories", params={"accountId": account_id}).json()
        [directory] = [d["directoryId"] for d in found["data"]]
        user = f"{base}/directories/{directory}/users/{account_id}"
        assert client.get(user).json()["data"]["membershipStatus"] == "active"
        assert client.post(f"{user}/suspend").status_code == 204
        assert client.post(f"{user}/suspend").status_code == 204  # already suspended
        assert client.get(user).json()["data"]["membershipStatus"] == "suspended"
        assert account_id in running.sim.suspended
        # The directory search the sync reads shows the suspension too.
        assert _searched(client, base, account_id)["membershipStatus"] == "suspended"
        assert client.post(f"{user}/restore").status_code == 204
        assert client.get(user).json()["data"]["membershipStatus"] == "active"
        assert _searched(client, base, account_id)["membershipStatus"] == "active"
        unknown = client.post(f"{base}/directories/nope/users/{account_id}/suspend")
        assert unknown.status_code == 404
        nobody = client.get(f"{base}/directories", params={"accountId": "557058:nobody"})
        assert nobody.json()["data"] == []
    wrong = httpx.post(f"{user}/suspend", headers={"Authorization": "Bearer wrong"})
    assert wrong.status_code == 401 and account_id not in running.sim.suspended
    assert running.sim.counters.writes() == 5  # every write attempt, refused ones too


def _searched(client: httpx.Client, base: str, account_id: str) -> dict[str, object]:
    """The account as POST …/directories/-/users/search pages it (cursor to cursor)."""
    body: dict[str, object] = {"limit": 100}
    while True:
        page = client.post(f"{base}/directories/-/users/search", json=body).json()
        for user in page["data"]:
            if user["accountId"] == account_id:
                return dict(user)
        if not page["links"].get("next"):
            raise AssertionError(f"{account_id} is not in the directory")
        body["cursor"] = page["links"]["next"]
