"""Access as Atlassian grants it (confluence-api.md §5.8, §5.9): roles carried by groups or
granted directly, with their assignment methods; the directory search derives
``productAccess`` and ``platformRoles`` from them and filters by account, resource and role."""

from __future__ import annotations

from simulator import RunningSimulator
from simulator.roles import (
    ADMIN,
    ORG_ADMIN,
    SITE_ADMIN,
    USER,
    confluence_resource,
    site_resource,
)
from tests.simulator.support import AdminApi, staff


def _confluence_entries(user: dict[str, object], cloud_id: str) -> list[object]:
    access = user["productAccess"]
    assert isinstance(access, list)
    return [e for e in access if e["key"] == "confluence" and e["id"] == cloud_id]


def test_a_direct_grant_gives_access_without_any_group(fresh: RunningSimulator) -> None:
    sim, site = fresh.sim, fresh.sim.site
    account_id = staff(site)[0]
    for group in site.groups_of(account_id):
        site.remove_member(group.group_id, account_id)
    resource = confluence_resource(site.cloud_id)
    directory = sim.org.default_directory.directory_id
    with AdminApi(fresh) as admin:
        assert not site.has_confluence_access(account_id)
        assert _confluence_entries(admin.user(account_id, "productAccess"), site.cloud_id) == []
        assert admin.role_assignments(directory, account_id) == []

        assert admin.roles("assign", account_id, USER, resource).status_code == 204
        assert site.groups_of(account_id) == [] and site.has_confluence_access(account_id)
        assert len(_confluence_entries(admin.user(account_id, "productAccess"), site.cloud_id)) == 1
        [assignment] = admin.role_assignments(directory, account_id, resourceIds=resource)
        assert assignment["roleAssignments"] == [
            {"role": USER, "roleAssignmentMethods": ["direct"]}
        ]
        assert assignment["directoryId"] == directory
        assert assignment["userDirectoryStatus"] == "active"

        # A group that carries the role as well: both methods; revoking the direct grant
        # leaves the access the group gives.
        sim.actions.add_member("confluence-users", account_id)
        [both] = admin.role_assignments(directory, account_id, resourceIds=resource)
        assert both["roleAssignments"][0]["roleAssignmentMethods"] == ["direct", "group_direct"]
        assert admin.roles("revoke", account_id, USER, resource).status_code == 204
        [group_only] = admin.role_assignments(directory, account_id, resourceIds=resource)
        assert group_only["roleAssignments"][0]["roleAssignmentMethods"] == ["group_direct"]
        assert site.has_confluence_access(account_id)


def test_access_comes_from_the_roles_a_group_carries_not_from_membership(
    fresh: RunningSimulator,
) -> None:
    site = fresh.sim.site
    account_id = staff(site)[1]
    for group in site.groups_of(account_id):
        site.remove_member(group.group_id, account_id)
    team = site.add_group("wiki-readers", "grp-readers", [account_id], roles=())
    assert site.groups_of(account_id) == [team]
    assert not site.has_confluence_access(account_id)
    with AdminApi(fresh) as admin:
        assert _confluence_entries(admin.user(account_id, "productAccess"), site.cloud_id) == []
        site.set_group_roles("wiki-readers", [ADMIN])  # admin implies access
        assert site.has_confluence_access(account_id) and site.is_admin(account_id)
        assert not site.is_site_admin(account_id)
        assert len(_confluence_entries(admin.user(account_id, "productAccess"), site.cloud_id)) == 1
    # Status and suspension take access away, keeping the roles.
    fresh.sim.site.set_suspended(account_id, True)
    assert site.holds_access_role(account_id) and not site.has_confluence_access(account_id)


def test_platform_roles_are_the_admin_roles_only_when_expanded(fresh: RunningSimulator) -> None:
    sim, site = fresh.sim, fresh.sim.site
    admin_id, reader_id = site.operators["admin"], site.operators["member"]
    with AdminApi(fresh) as admin:
        assert "platformRoles" not in admin.user(admin_id)
        assert admin.user(admin_id, "platformRoles")["platformRoles"] == [SITE_ADMIN]
        assert admin.user(reader_id, "platformRoles")["platformRoles"] == []
        org_admin = admin.roles("assign", reader_id, ORG_ADMIN, "")
        assert org_admin.status_code == 204
        assert admin.user(reader_id, "platformRoles")["platformRoles"] == [ORG_ADMIN]
        assert sim.is_site_admin(site, reader_id)  # an org admin administers every site
        [platform, org] = admin.role_assignments(
            "-", reader_id, roleIds=f"{SITE_ADMIN},{ORG_ADMIN}"
        )
        assert platform["resourceId"] == site_resource(site.cloud_id)
        assert platform["roleAssignments"] == [
            {"role": SITE_ADMIN, "roleAssignmentMethods": ["inferred"]}
        ]
        assert (platform["directoryId"], platform["userDirectoryStatus"]) == (None, None)
        assert org["roleAssignments"][0]["role"] == ORG_ADMIN
        assert admin.roles("revoke", reader_id, ORG_ADMIN, "").status_code == 204
        assert admin.user(reader_id, "platformRoles")["platformRoles"] == []


def test_search_filters_by_account_resource_and_role(fresh: RunningSimulator) -> None:
    site = fresh.sim.site
    resource = confluence_resource(site.cloud_id)
    people = staff(site)
    with AdminApi(fresh) as admin:
        two = admin.search(accountIds=[people[3], people[2], "557058:nobody"])
        assert [u["accountId"] for u in two] == [people[3], people[2]]
        with_access = {u["accountId"] for u in admin.search(resourceIds=[resource])}
        expected = {
            a.account_id
            for _, a in fresh.sim.directory_accounts()
            if site.holds_access_role(a.account_id)
        }
        assert with_access == expected and people[0] in with_access
        site_admins = {u["accountId"] for u in admin.search(roleIds=[SITE_ADMIN])}
        assert site.operators["admin"] in site_admins
        assert all(site.is_site_admin(a) for a in site_admins)
        admins = {u["accountId"] for u in admin.search(roleIds=[ADMIN], resourceIds=[resource])}
        assert admins == {a for a in expected if ADMIN in site.role_assignments(a)}
        paged = admin.search(limit=7, resourceIds=[resource])  # cursors keep the filter
        assert {u["accountId"] for u in paged} == expected


def test_revoking_a_role_held_through_a_group_is_ignored_or_refused(
    fresh: RunningSimulator,
) -> None:
    sim, site = fresh.sim, fresh.sim.site
    account_id = next(a for a in staff(site) if site.groups_granting(a, USER))
    resource = confluence_resource(site.cloud_id)
    with AdminApi(fresh) as admin:
        assert admin.roles("revoke", account_id, USER, resource).status_code == 204
        assert site.has_confluence_access(account_id)  # the group still gives it
        sim.behaviour.configure(revoke_group_role="refuse")
        refused = admin.roles("revoke", account_id, USER, resource)
        assert refused.status_code == 400
        assert "through a group" in refused.json()["errors"][0]["detail"]
        assert site.has_confluence_access(account_id)


def test_role_writes_check_their_role_and_resource(fresh: RunningSimulator) -> None:
    site = fresh.sim.site
    account_id = staff(site)[0]
    with AdminApi(fresh) as admin:
        assert admin.roles("assign", account_id, "atlassian/nope", "x").status_code == 400
        wrong_kind = admin.roles(
            "assign", account_id, SITE_ADMIN, confluence_resource(site.cloud_id)
        )
        assert wrong_kind.status_code == 400
        unknown = admin.roles("assign", account_id, USER, confluence_resource("no-such-cloud"))
        assert unknown.status_code == 404
        nobody = admin.roles("assign", "557058:nobody", USER, confluence_resource(site.cloud_id))
        assert nobody.status_code == 404
        assert admin.roles("assign", account_id, USER, "").status_code == 400
    assert site.direct_roles.get(account_id) is None
    assert fresh.sim.counters.writes() == 5  # refused writes are counted too
