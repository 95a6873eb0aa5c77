"""Admin API writes as Atlassian answers them (confluence-api.md §5.9): suspend/restore per
directory in three answer forms, the organization-wide ``membershipStatus``, restore giving back
what the account had, deactivation of managed accounts only, directories paged by cursor."""

from __future__ import annotations

import pytest

from simulator import RunningSimulator
from simulator.roles import confluence_resource
from tests.simulator.support import AdminApi, basic_client, staff


@pytest.mark.parametrize(
    ("answer", "status", "body"),
    [
        ("204", 204, b""),
        ("200-message", 200, b'{"message":"The user\'s access was suspended in the directory."}'),
        ("200-empty", 200, b""),
    ],
)
def test_suspend_answers_in_the_form_asked_for(
    fresh: RunningSimulator, answer: str, status: int, body: bytes
) -> None:
    sim = fresh.sim
    account_id = staff(sim.site)[0]
    sim.behaviour.configure(suspend_answer=answer)
    with AdminApi(fresh) as admin:
        [directory] = admin.directory_ids(account_id)
        suspended = admin.suspend(directory, account_id)
        assert (suspended.status_code, suspended.content) == (status, body)
        assert admin.user(account_id)["membershipStatus"] == "suspended"
        restored = admin.restore(directory, account_id)
        assert restored.status_code == status
        assert admin.user(account_id)["membershipStatus"] == "active"


def test_suspension_is_per_directory_and_membership_status_is_the_aggregate(
    fresh: RunningSimulator,
) -> None:
    sim, site = fresh.sim, fresh.sim.site
    account_id = staff(site)[0]
    default = sim.org.default_directory.directory_id
    for n in range(3):
        sim.org.add_directory(f"dir-{n}", f"Directory {n}", members=[account_id])
    resource = confluence_resource(site.cloud_id)
    with AdminApi(fresh) as admin:
        directories = admin.directory_ids(account_id)  # one per page: followed by cursor
        assert directories == [default, "dir-0", "dir-1", "dir-2"]
        assert admin.suspend(default, account_id).status_code == 204
        # Suspended where the site's resources are: no access, but not suspended everywhere.
        user = admin.user(account_id)
        assert (user["membershipStatus"], user["status"]) == ("active", "active")
        assert not site.has_confluence_access(account_id)
        [entry] = admin.role_assignments(default, account_id, resourceIds=resource)
        assert entry["userDirectoryStatus"] == "suspended"
        for directory in directories[1:]:
            assert admin.suspend(directory, account_id).status_code == 204
        user = admin.user(account_id)
        assert (user["membershipStatus"], user["status"]) == ("suspended", "suspended")
        assert account_id in sim.suspended
        assert admin.suspend("dir-9", account_id).status_code == 404
        other = staff(site)[1]
        assert admin.suspend("dir-0", other).status_code == 404  # not a member there
        assert admin.role_assignments("dir-0", account_id, resourceIds=resource) == []


def test_restore_gives_back_the_memberships_and_roles_the_account_had(
    fresh: RunningSimulator,
) -> None:
    sim, site = fresh.sim, fresh.sim.site
    sim.behaviour.configure(suspension_hides_memberships=True)
    account_id = staff(site)[0]
    site.grant_role(account_id, "atlassian/admin")
    groups = sorted(g.group_id for g in site.groups_of(account_id))
    roles = site.role_assignments(account_id)
    directory = sim.org.default_directory.directory_id
    with AdminApi(fresh) as admin, basic_client(fresh) as client:

        def seen_groups() -> list[str]:
            found = client.get("/wiki/rest/api/user/memberof", params={"accountId": account_id})
            return sorted(g["id"] for g in found.json()["results"])

        assert seen_groups() == groups
        assert admin.suspend(directory, account_id).status_code == 204
        assert seen_groups() == [] and not site.has_confluence_access(account_id)
        [entry] = admin.role_assignments(
            directory, account_id, resourceIds=confluence_resource(site.cloud_id)
        )
        assert entry["roleAssignments"] == [] and entry["userDirectoryStatus"] == "suspended"
        assert admin.restore(directory, account_id).status_code == 204
        assert seen_groups() == groups
    assert site.role_assignments(account_id) == roles
    assert site.has_confluence_access(account_id)


def test_deactivation_is_for_managed_accounts_and_shows_everywhere(
    fresh: RunningSimulator,
) -> None:
    site = fresh.sim.site
    managed, unmanaged = staff(site, managed=True)[0], staff(site, managed=False)[0]
    with AdminApi(fresh) as admin, basic_client(fresh) as client:
        refused = admin.lifecycle("disable", unmanaged)
        assert refused.status_code == 403
        assert refused.json()["key"] == "forbidden.targetUnverified"
        assert admin.lifecycle("disable", "557058:nobody").status_code == 404
        assert admin.lifecycle("disable", managed, message="Left the company").status_code == 204
        bulk = client.post("/wiki/api/v2/users-bulk", json={"accountIds": [managed, unmanaged]})
        statuses = {u["accountId"]: u["accountStatus"] for u in bulk.json()["results"]}
        assert statuses == {managed: "inactive", unmanaged: "active"}
        user = admin.user(managed)
        assert (user["accountStatus"], user["status"]) == ("inactive", "deactivated")
        assert user["deactivatedOn"] is not None
        assert not site.has_confluence_access(managed)
        assert admin.lifecycle("enable", managed).status_code == 204
        assert admin.user(managed)["accountStatus"] == "active"
        assert site.has_confluence_access(managed)
    actions = [e.action for e in fresh.sim.events.events]
    assert actions == ["account_deactivated", "account_reactivated"]


def test_admin_writes_need_the_org_admin_key(fresh: RunningSimulator) -> None:
    sim = fresh.sim
    account_id = staff(sim.site)[0]
    directory = sim.org.default_directory.directory_id
    with AdminApi(fresh, key="ATCTT-wrong") as wrong:
        assert wrong.suspend(directory, account_id).status_code == 401
        assert wrong.lifecycle("disable", account_id).status_code == 401
        assert wrong.roles("assign", account_id, "atlassian/user", "x").status_code == 401
    assert sim.suspended == set() and sim.events.events == []
