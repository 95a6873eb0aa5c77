"""Site admin is a role apart from the Confluence admin groups (confluence-api.md §5.9): a
Confluence administrator who is not a site admin is refused the group writes with 403
"User must be a site admin"; scopes are classic or granular, and a scoped API token is
limited to its own."""

from __future__ import annotations

import httpx

from simulator import VIGIL_SCOPES, RunningSimulator
from simulator.roles import SITE_ADMIN, site_resource
from tests.simulator.support import AdminApi, basic_client, bearer_client, staff

REMOVE = "/wiki/rest/api/group/userByGroupId"
DELETE = f"DELETE {REMOVE}"
CURRENT = "/wiki/rest/api/user/current"


def _target(running: RunningSimulator) -> tuple[str, str]:
    site = running.sim.site
    account_id = staff(site)[0]
    return site.groups_of(account_id)[0].group_id, account_id


def test_a_confluence_admin_who_is_not_a_site_admin_gets_403(fresh: RunningSimulator) -> None:
    sim, site = fresh.sim, fresh.sim.site
    reader = site.operators["member"]
    site.add_member("confluence-administrators", reader)
    group_id, account_id = _target(fresh)
    params = {"groupId": group_id, "accountId": account_id}
    with basic_client(fresh, role="member") as client:
        me = client.get(CURRENT, params={"expand": "operations"}).json()
        assert {"operation": "administer", "targetType": "application"} in me["operations"]
        refused = client.delete(REMOVE, params=params)
        assert refused.status_code == 403
        assert refused.json()["message"] == "User must be a site admin"
        assert account_id in site.groups[group_id].member_ids
        assert sim.counters.count(DELETE) == 1 and sim.counters.count(DELETE, 403) == 1

        # The site-admin role (here granted directly, through the Admin API) is what counts.
        with AdminApi(fresh) as admin:
            assert (
                admin.roles("assign", reader, SITE_ADMIN, site_resource(site.cloud_id)).status_code
                == 204
            )
        assert client.delete(REMOVE, params=params).status_code == 204
    assert account_id not in site.groups[group_id].member_ids


def test_a_site_admin_outside_the_admin_groups_is_a_confluence_admin(
    fresh: RunningSimulator,
) -> None:
    site = fresh.sim.site
    reader = site.operators["member"]
    assert not site.is_admin(reader)
    fresh.sim.org.admins.add(reader)  # an organization admin is site admin of every site
    with basic_client(fresh, role="member") as client:
        me = client.get(CURRENT, params={"expand": "operations"}).json()
        assert {"operation": "administer", "targetType": "application"} in me["operations"]
        group_id, account_id = _target(fresh)
        deleted = client.delete(REMOVE, params={"groupId": group_id, "accountId": account_id})
        assert deleted.status_code == 204


def test_group_writes_accept_the_classic_or_the_granular_scope(fresh: RunningSimulator) -> None:
    sim = fresh.sim
    group_id, account_id = _target(fresh)
    params = {"groupId": group_id, "accountId": account_id}
    for scope in ("write:confluence-groups", "write:group:confluence"):
        token = sim.issue_access_token([*VIGIL_SCOPES, scope])["access_token"]
        with bearer_client(fresh, token) as client:
            assert client.delete(REMOVE, params=params).status_code == 204
            added = client.post(
                REMOVE, params={"groupId": group_id}, json={"accountId": account_id}
            )
            assert added.status_code == 201
    assert account_id in sim.site.groups[group_id].member_ids


def test_a_scoped_api_token_is_limited_to_its_scopes(fresh: RunningSimulator) -> None:
    creds, site = fresh.sim.credentials, fresh.sim.site
    group_id, account_id = _target(fresh)
    params = {"groupId": group_id, "accountId": account_id}
    scoped = creds.scoped_admin_token  # read scopes only
    gateway = fresh.confluence_api_base()
    with httpx.Client(base_url=gateway, auth=(scoped.email, scoped.token), timeout=10) as client:
        assert client.get("/wiki/rest/api/group").status_code == 200
        refused = client.delete(REMOVE, params=params)
        assert refused.status_code == 401
        assert refused.json() == {"code": 401, "message": "Unauthorized; scope does not match"}
    assert account_id in site.groups[group_id].member_ids
    writer = creds.add_api_token(
        scoped.email, "ATATT-writer", scoped=True, scopes=[*VIGIL_SCOPES, "write:group:confluence"]
    )
    with httpx.Client(base_url=gateway, auth=(writer.email, writer.token), timeout=10) as client:
        assert client.delete(REMOVE, params=params).status_code == 204
        # No read scope for content, though.
        narrow = creds.add_api_token(scoped.email, "ATATT-narrow", scoped=True, scopes=["read:me"])
        denied = client.get("/wiki/rest/api/group", auth=(narrow.email, narrow.token))
        assert denied.status_code == 401
    assert account_id not in site.groups[group_id].member_ids


def test_adding_a_member_needs_a_site_admin_and_an_existing_account(
    fresh: RunningSimulator,
) -> None:
    site = fresh.sim.site
    group_id, account_id = _target(fresh)
    site.remove_member(group_id, account_id)
    with basic_client(fresh, role="member") as client:
        refused = client.post(REMOVE, params={"groupId": group_id}, json={"accountId": account_id})
        assert refused.status_code == 403
    with basic_client(fresh) as client:
        missing = client.post(REMOVE, params={"groupId": group_id}, json={})
        unknown = client.post(REMOVE, params={"groupId": group_id}, json={"accountId": "nope"})
        added = client.post(REMOVE, params={"groupId": group_id}, json={"accountId": account_id})
    assert (missing.status_code, unknown.status_code, added.status_code) == (400, 404, 201)
    assert account_id in site.groups[group_id].member_ids
