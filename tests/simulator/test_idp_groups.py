"""Groups synced from an identity provider: ``managedBy: EXTERNAL`` on v1 groups (with
``usageType``, as Atlassian's current v1 reference shows them), adding refused, removing refused
or accepted and undone by the next IdP push (``behaviour.idp_removal``)."""

from __future__ import annotations

import pytest

from simulator import RunningSimulator
from tests.simulator.support import basic_client, follow_v1, staff

MEMBER = "/wiki/rest/api/group/userByGroupId"


def _synced(running: RunningSimulator) -> tuple[str, str]:
    """A synced group and one of its (non-operator) members."""
    site = running.sim.site
    group, account_id = next(
        (g, a)
        for a in staff(site)
        for g in site.groups_of(a)
        if g.name not in ("confluence-users", "confluence-administrators", "site-admins")
    )
    site.set_group_synced(group.group_id)
    return group.group_id, account_id


def test_v1_groups_say_who_manages_them(fresh: RunningSimulator) -> None:
    group_id, _ = _synced(fresh)
    with basic_client(fresh) as client:
        groups = [g for page in follow_v1(client, "/wiki/rest/api/group") for g in page["results"]]
        by_id = {g["id"]: g for g in groups}
        assert by_id[group_id]["managedBy"] == "EXTERNAL"
        assert {g["managedBy"] for i, g in by_id.items() if i != group_id} == {"ADMINS"}
        assert {g["usageType"] for g in groups} == {"USERBASE_GROUP"}
        fresh.sim.behaviour.configure(group_fields=False)  # older answers: clients cope
        bare = client.get("/wiki/rest/api/group").json()["results"]
        assert not any("managedBy" in g or "usageType" in g for g in bare)


def test_removing_a_synced_member_is_refused_by_default(fresh: RunningSimulator) -> None:
    group_id, account_id = _synced(fresh)
    with basic_client(fresh) as client:
        refused = client.delete(MEMBER, params={"groupId": group_id, "accountId": account_id})
        added = client.post(MEMBER, params={"groupId": group_id}, json={"accountId": account_id})
    assert refused.status_code == 403 and "identity provider" in refused.json()["message"]
    assert added.status_code == 403 and "identity provider" in added.json()["message"]
    assert account_id in fresh.sim.site.groups[group_id].member_ids


def test_an_accepted_removal_is_undone_by_the_next_idp_push(fresh: RunningSimulator) -> None:
    sim = fresh.sim
    group_id, account_id = _synced(fresh)
    sim.behaviour.configure(idp_removal="accept")
    with basic_client(fresh) as client:
        removed = client.delete(MEMBER, params={"groupId": group_id, "accountId": account_id})
        assert removed.status_code == 204
        assert account_id not in sim.site.groups[group_id].member_ids
        assert sim.actions.idp_push() == 1
        assert account_id in sim.site.groups[group_id].member_ids
        actions = [e.action for e in sim.events.events]
        assert actions == ["user_removed_from_group", "user_added_to_group"]
        assert sim.events.events[-1].actor["id"] == "identity-provider"


@pytest.mark.parametrize("lag", [0.0, 5.0])
def test_an_automatic_idp_push_follows_on_the_clock(fresh: RunningSimulator, lag: float) -> None:
    sim = fresh.sim
    group_id, account_id = _synced(fresh)
    sim.behaviour.configure(idp_removal="accept", idp_push_seconds=60, lag_seconds=lag)
    with basic_client(fresh) as client:
        params = {"groupId": group_id, "accountId": account_id}
        assert client.delete(MEMBER, params=params).status_code == 204
        sim.clock.advance(lag + 1)
        members = client.get(f"/wiki/rest/api/group/{group_id}/membersByGroupId").json()
        assert account_id not in [m["accountId"] for m in members["results"]]
        sim.clock.advance(60)
        members = client.get(f"/wiki/rest/api/group/{group_id}/membersByGroupId").json()
        assert account_id in [m["accountId"] for m in members["results"]]


def test_changes_made_at_the_idp_stay(fresh: RunningSimulator) -> None:
    """The control route's changes to a synced group are the IdP's: a push keeps them."""
    sim = fresh.sim
    group_id, account_id = _synced(fresh)
    sim.actions.remove_member(group_id, account_id)
    assert sim.actions.idp_push() == 0
    assert account_id not in sim.site.groups[group_id].member_ids
