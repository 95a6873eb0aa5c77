"""Issue 21 end to end (GraphQL → Vigil → the simulator): what must not be called is not.

- A Confluence admin who is not a site admin: the first group removal fails with Atlassian's
  403, the others are blocked with that reason, and the simulator counts exactly one DELETE;
  enableConfluenceRemediation lifts the block once the account is a site admin.
- Guards: the connection's own account, the last member of an admin group and the members
  of a group synced from an identity provider are never removed — no write call.
- Approvals stay true: people reactivated between approval and call get no write (the
  simulator counts zero) and their actions end CANCELLED with why; cancelRemediation stops
  approved actions; access that comes back after a VERIFIED removal is planned and carried
  out again.
"""

from __future__ import annotations

from datetime import UTC, datetime

from services.models import Principal, Role
from services.remediation.models import ActionState
from tests.e2e.connect_support import Env, worker_env_fixture
from tests.e2e.remediation_support import (
    CANCEL,
    ENABLE,
    EXECUTE,
    OFFBOARDED,
    WRITE_ROUTE,
    account_node,
    execute,
    key_for,
    make_admin_member,
    offboard,
    plan_for,
    prepare,
    reactivate,
    resync,
    staff_accounts,
    until_failing,
    until_not_failing,
)

env = worker_env_fixture("remediation_sim")


def confluence_admin_token(env: Env) -> tuple[str, str, str]:
    """An API token of a Confluence administrator who is not a site admin (a member of
    confluence-administrators only): (account id, email, token)."""
    sim = env.sim.sim
    account_id = make_admin_member(env)
    account = sim.site.get_account(account_id)
    assert account is not None and sim.site.is_admin(account_id)
    assert not sim.is_site_admin(sim.site, account_id)
    sim.credentials.add_api_token(account.email, "conf-admin-token")
    return account_id, account.email, "conf-admin-token"


async def test_a_confluence_admin_who_is_not_a_site_admin_makes_one_refused_call(
    env: Env,
) -> None:
    operator, email, token = confluence_admin_token(env)
    integration_id = await prepare(env, admin_key=False, email=email, token=token)
    site, counters = env.sim.sim.site, env.sim.sim.counters
    target = next(
        a
        for a in await staff_accounts(env)
        if a["accountId"] != operator and len(site.groups_of(a["accountId"])) > 1
    )
    account_id = target["accountId"]
    await offboard(env, target)
    await until_failing(env, OFFBOARDED, {account_id}, timeout=30)
    plan = await plan_for(env, account_id)
    ids = [a["id"] for a in plan]
    assert len(ids) > 1 and all(a["executable"] for a in plan)
    assert all(a["caveat"] and "Admin API key" in a["caveat"] for a in plan)  # no key

    final = await execute(env, ids)
    assert counters.count(WRITE_ROUTE) == 1  # no hammering: one call, one 403
    [failed] = [a for a in final.values() if a["state"] == "FAILED"]
    assert failed["calls"][-1]["status"] == 403
    assert failed["error"] == "Atlassian answered 403: User must be a site admin"
    blocked = [a for a in final.values() if a["state"] == "CANCELLED"]
    assert len(blocked) == len(ids) - 1
    for action in blocked:
        assert action["calls"] == [] and action["evidenceId"]
        assert "User must be a site admin" in action["cancelReason"]
    after = await plan_for(env, account_id)
    assert not any(a["executable"] for a in after)
    assert all("site admin" in a["blockedReason"] for a in after)
    refused = await env.gql(EXECUTE, {"input": {"actionIds": ids, "confirm": True}})
    assert refused["executeRemediation"]["userErrors"][0]["code"] == "NOT_GRANTED"
    assert counters.count(WRITE_ROUTE) == 1

    # Made a site admin, the ADMIN re-consents: every removal is tried again and done.
    site.grant_role(operator, "atlassian/site-admin")
    enabled = (await env.gql(ENABLE, {"confirm": True}))["enableConfluenceRemediation"]
    assert enabled["userErrors"] == []
    again = await plan_for(env, account_id)
    assert all(a["executable"] for a in again)
    final = await execute(env, ids)
    assert {a["state"] for a in final.values()} == {"VERIFIED"}
    assert {a["attempt"] for a in final.values()} == {2}
    assert site.groups_of(account_id) == []
    assert integration_id


async def test_guards_never_call_for_own_account_last_admin_or_a_synced_group(
    env: Env,
) -> None:
    site, counters = env.sim.sim.site, env.sim.sim.counters
    lonely = make_admin_member(env, "wiki-admins")  # its only member (before the first sync)
    integration_id = await prepare(env, admin_key=False)
    synced_member = next(
        a["accountId"]
        for a in await staff_accounts(env)
        if a["accountId"] != lonely and len(site.groups_of(a["accountId"])) > 1
    )
    synced_group = site.groups_of(synced_member)[0]
    site.set_group_synced(synced_group.group_id)  # pushed by an identity provider
    kept = {lonely: {"wiki-admins"}, synced_member: {synced_group.name}}
    if lonely in synced_group.member_ids:
        kept[lonely].add(synced_group.name)
    settings = """mutation($input: UpdateIntegrationSettingsInput!) {
      updateIntegrationSettings(input: $input) { userErrors { code message } } }"""
    admin_groups = ["confluence-administrators", "site-admins", "wiki-admins"]
    changed = await env.gql(
        settings, {"input": {"integrationId": integration_id, "adminGroups": admin_groups}}
    )
    assert changed["updateIntegrationSettings"]["userErrors"] == []
    await resync(env, integration_id)
    operator = site.operators["admin"]  # Vigil acts as this account
    people = [await account_node(env, a) for a in (operator, lonely, synced_member)]
    for person in people:
        await offboard(env, person)
    await until_failing(env, OFFBOARDED, {operator, lonely, synced_member}, timeout=30)

    plan = await plan_for(env)
    mine = [a for a in plan if a["accountId"] == operator]
    last = [a for a in plan if a["accountId"] == lonely and a["groupName"] == "wiki-admins"]
    assert mine and len(last) == 1
    assert last[0]["executable"] is False and "last member" in last[0]["blockedReason"]
    idp = [a for a in plan if a["groupId"] == synced_group.group_id]
    assert idp and all(
        not a["executable"] and "identity provider" in a["blockedReason"] for a in idp
    )
    refused = await env.gql(EXECUTE, {"input": {"actionIds": [last[0]["id"]], "confirm": True}})
    assert refused["executeRemediation"]["userErrors"][0]["code"] == "NOT_GRANTED"

    # Vigil learns which account it acts as before its first call: its own removals end
    # CANCELLED without a call; the lonely admin leaves every group but wiki-admins.
    runnable = [a["id"] for a in plan if a["executable"]]
    final = await execute(env, runnable)
    for action in final.values():
        if action["accountId"] == operator:
            assert action["state"] == "CANCELLED" and action["calls"] == []
            assert "the Confluence connection acts as" in action["cancelReason"]
        else:
            assert action["state"] == "VERIFIED", action
    removed = [a for a in final.values() if a["state"] == "VERIFIED"]
    assert counters.count(WRITE_ROUTE) == len(removed)
    for account_id, groups in kept.items():
        assert {g.name for g in site.groups_of(account_id)} == groups
    assert {g.group_id for g in site.groups_of(operator)} == {a["groupId"] for a in mine}
    blocked = await plan_for(env, operator)
    assert blocked and all("acts as" in a["blockedReason"] for a in blocked)


async def test_a_person_reactivated_after_approval_gets_no_write_and_cancel_stops_actions(
    env: Env,
) -> None:
    await prepare(env, admin_key=False)
    counters, container = env.sim.sim.counters, env.live.container
    staff = (await staff_accounts(env))[:4]
    for person in staff:
        await offboard(env, person)
    returning, stopped = staff[:3], staff[3]
    await until_failing(env, OFFBOARDED, {a["accountId"] for a in staff}, timeout=30)
    plan = await plan_for(env)
    assert {a["accountId"] for a in plan} == {a["accountId"] for a in staff}

    # Approved (what executeRemediation stores), then three people come back before the
    # calls are made: the re-check just before each call cancels them, nothing is called.
    planned = await container.remediation.plan(Principal(env.org_id, Role.VIEWER, "k"))
    for_returning = [a for a in planned if a.account_id in {p["accountId"] for p in returning}]
    await container.store.remediations.approve(for_returning, approved_by="key_admin", now=_now())
    for person in returning:
        await reactivate(env, person)
    finished = await container.remediation.executor.run(env.org_id)
    assert {a.state for a in finished} == {ActionState.CANCELLED}
    assert sorted(a.id for a in finished) == sorted(a.id for a in for_returning)
    assert all("no longer offboarded" in (a.cancel_reason or "") for a in finished), finished
    stored = await container.store.remediations.get_many(
        organization_id=env.org_id, action_ids=[a.id for a in finished]
    )
    assert all(a.evidence_id for a in stored.values())  # each with its evidence record
    assert counters.writes() == 0

    # cancelRemediation: an ADMIN stops approved actions that are not called yet.
    mine = [a for a in planned if a.account_id == stopped["accountId"]]
    await container.store.remediations.approve(mine, approved_by="key_admin", now=_now())
    ids = [a.id for a in mine]
    viewer = await key_for(env, "VIEWER")
    forbidden = await env.gql(CANCEL, {"input": {"actionIds": ids}}, key=viewer)
    assert forbidden["cancelRemediation"]["userErrors"][0]["code"] == "FORBIDDEN"
    cancelled = (await env.gql(CANCEL, {"input": {"actionIds": ids}}))["cancelRemediation"]
    assert cancelled["userErrors"] == []
    assert {a["state"] for a in cancelled["actions"]} == {"CANCELLED"}
    assert all(a["cancelledBy"] for a in cancelled["actions"])
    await container.remediation.wait_idle()
    assert counters.writes() == 0
    unknown = await env.gql(CANCEL, {"input": {"actionIds": ["rem_nope"]}})
    assert unknown["cancelRemediation"]["userErrors"][0]["code"] == "NOT_FOUND"

    # Approved again, a cancelled action runs as its next attempt.
    final = await execute(env, ids)
    assert {(a["state"], a["attempt"]) for a in final.values()} == {("VERIFIED", 2)}
    assert counters.writes() == len(ids)
    late = await env.gql(CANCEL, {"input": {"actionIds": ids}})
    assert late["cancelRemediation"]["userErrors"][0]["code"] == "NOT_CANCELLABLE"


async def test_access_that_comes_back_after_a_verified_removal_is_removed_again(
    env: Env,
) -> None:
    integration_id = await prepare(env, admin_key=False)
    sim = env.sim.sim
    target = next(a for a in await staff_accounts(env) if sim.site.groups_of(a["accountId"]))
    account_id = target["accountId"]
    await offboard(env, target)
    await until_failing(env, OFFBOARDED, {account_id}, timeout=30)
    first = await plan_for(env, account_id)
    final = await execute(env, [a["id"] for a in first])
    assert {a["state"] for a in final.values()} == {"VERIFIED"}
    await until_not_failing(env, OFFBOARDED, {account_id}, timeout=60)
    assert await plan_for(env, account_id) == []

    # Someone adds the account back to one of its groups: the next sync shows it again.
    group = first[0]
    sim.actions.add_member(group["groupId"], account_id)
    await resync(env, integration_id)
    await until_failing(env, OFFBOARDED, {account_id}, timeout=30)
    [again] = await plan_for(env, account_id)
    assert again["groupId"] == group["groupId"] and again["state"] is None
    assert again["occurrence"] == 1 and again["id"] != group["id"]
    done = await execute(env, [again["id"]])
    assert done[again["id"]]["state"] == "VERIFIED"
    assert sim.site.groups_of(account_id) == []
    assert sim.counters.count(WRITE_ROUTE) == len(first) + 1  # that group's removal, twice
    await until_not_failing(env, OFFBOARDED, {account_id}, timeout=60)


def _now() -> datetime:
    return datetime.now(UTC)


async def test_a_scoped_api_token_without_a_write_scope_is_refused_once_with_what_to_do(
    env: Env,
) -> None:
    scoped = env.sim.sim.credentials.scoped_admin_token  # the site admin's, read scopes only
    await prepare(env, admin_key=False, email=scoped.email, token=scoped.token)
    site, counters = env.sim.sim.site, env.sim.sim.counters
    target = next(a for a in await staff_accounts(env) if len(site.groups_of(a["accountId"])) > 1)
    await offboard(env, target)
    await until_failing(env, OFFBOARDED, {target["accountId"]}, timeout=30)
    plan = await plan_for(env, target["accountId"])
    assert len(plan) > 1 and all(a["executable"] for a in plan)  # Vigil cannot read its scopes

    final = await execute(env, [a["id"] for a in plan])
    assert counters.count(WRITE_ROUTE) == 1
    assert counters.count(WRITE_ROUTE, 401) == 1
    [failed] = [a for a in final.values() if a["state"] == "FAILED"]
    assert "scope does not match" in failed["error"]
    for action in final.values():
        if action is not failed:
            assert action["state"] == "CANCELLED" and action["calls"] == []
            reason = action["cancelReason"]
            assert "scope does not match" in reason and "write:group:confluence" in reason
    assert all(not a["executable"] for a in await plan_for(env, target["accountId"]))
    assert len(site.groups_of(target["accountId"])) == len(plan)  # nothing removed
