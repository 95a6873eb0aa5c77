"""Issues 16 and 21 end to end: GraphQL over HTTP and WebSocket → Vigil (in-process worker) →
the simulator. Offboarding with an Admin API key deactivates a managed account and suspends an
unmanaged one — no group is removed — after an ADMIN's ``confirm: true`` (the simulator sees
zero writes before), each verified by a read-back and recorded as evidence; the offboarding
check goes PASSING through the sync the execution triggers; ``restoreAccess`` gives back
exactly what the accounts had. An offboarded person whose access is direct (no group) gets an
executable plan and is VERIFIED (wire store). REVOKE and DOWNGRADE decisions remove the access
and the admin right where they come from, through 429 and 503 answers."""

from __future__ import annotations

from typing import Any

import pytest

from services.people.models import person_id
from simulator.roles import USER
from testkit.connect import Env
from tests.conftest import STORE_KINDS
from tests.e2e.connect_support import worker_env_fixture
from tests.e2e.remediation_support import (
    EVIDENCE,
    EXECUTE,
    LIST,
    OFFBOARDED,
    RESTORE,
    VALID,
    VERIFY,
    WRITE_ROUTE,
    direct_only,
    execute,
    key_for,
    make_admin_member,
    offboard,
    plan_for,
    prepare,
    staff_accounts,
    synced,
    until_failing,
    until_not_failing,
    watch_remediations,
)

first_sync = synced  # the name tests/e2e/test_direct_access.py imports
__all__ = ["OFFBOARDED", "first_sync", "offboard", "prepare"]

START = """mutation($input: StartAccessReviewInput!) { startAccessReview(input: $input) {
  accessReview { id } userErrors { code message } } }"""
ENTRIES = """query($id: ID!) { accessReview(id: $id) {
  entries(first: 500) { edges { node { id accountId isAdmin } } } } }"""
DECIDE = """mutation($input: DecideAccessInput!) { decideAccess(input: $input) {
  entry { id decision } userErrors { code message } } }"""
COMPLETE = """mutation($input: CompleteAccessReviewInput!) { completeAccessReview(input: $input) {
  accessReview { status } userErrors { code message } } }"""


env = worker_env_fixture("remediation_sim")


def state_of(env: Env, account_id: str) -> tuple[Any, ...]:
    """What the simulator says the account has: its groups, roles, status, suspension."""
    sim = env.sim.sim
    sim.apply_due_writes()
    site = sim.site
    account = site.get_account(account_id)
    assert account is not None
    return (
        sorted(g.group_id for g in site.groups_of(account_id)),
        sorted(site.role_assignments(account_id).items()),
        account.account_status,
        sim.membership_status(account_id),
    )


@pytest.mark.parametrize("env", STORE_KINDS, indirect=True)
async def test_offboarding_with_a_key_deactivates_or_suspends_and_restore_gives_it_back(
    env: Env,
) -> None:
    await prepare(env)
    sim = env.sim.sim
    site, counters = sim.site, sim.counters
    staff = await staff_accounts(env)
    managed = next(a for a in staff if site.is_managed(site.accounts[a["accountId"]]))
    unmanaged = next(a for a in staff if not site.is_managed(site.accounts[a["accountId"]]))
    people = {managed["accountId"]: managed, unmanaged["accountId"]: unmanaged}
    before = {a: state_of(env, a) for a in people}
    for person in people.values():
        await offboard(env, person)
    await until_failing(env, OFFBOARDED, set(people), timeout=30)

    plan = await plan_for(env)
    by_account = {a["accountId"]: a for a in plan}
    assert len(plan) == 2 and set(by_account) == set(people)  # no group removal at all
    deactivate, suspend = by_account[managed["accountId"]], by_account[unmanaged["accountId"]]
    assert deactivate["kind"] == "DEACTIVATE_ACCOUNT"
    assert deactivate["request"] == (f"POST /users/{managed['accountId']}/manage/lifecycle/disable")
    assert suspend["kind"] == "SUSPEND_ACCESS"
    assert suspend["request"].startswith(
        f"POST /admin/v2/orgs/{sim.credentials.org_id}/directories/{{directoryId}}/users/"
        f"{unmanaged['accountId']}/suspend"
    )
    for action in plan:
        assert action["executable"] and action["state"] is None and action["caveat"] is None
        assert action["source"]["type"] == "CHECK" and action["source"]["checkId"] == OFFBOARDED
    ids = [a["id"] for a in plan]
    assert counters.writes() == 0  # planning calls nothing

    for role in ("VIEWER", "REVIEWER"):
        refused = await env.gql(
            EXECUTE, {"input": {"actionIds": ids, "confirm": True}}, key=await key_for(env, role)
        )
        assert refused["executeRemediation"]["userErrors"][0]["code"] == "FORBIDDEN"
    unconfirmed = await env.gql(EXECUTE, {"input": {"actionIds": ids}})
    assert unconfirmed["executeRemediation"]["userErrors"][0]["code"] == "CONFIRMATION_REQUIRED"
    unknown = await env.gql(EXECUTE, {"input": {"actionIds": ["rem_nope"], "confirm": True}})
    assert unknown["executeRemediation"]["userErrors"][0]["code"] == "NOT_FOUND"
    assert counters.writes() == 0  # no write without an ADMIN's confirm: true

    final = await execute(env, ids)
    assert {a["state"] for a in final.values()} == {"VERIFIED"}, final
    for action in final.values():
        assert action["verification"]["confirmed"] and action["evidenceId"]
        assert action["readBacks"][-1]["confirmed"]
    seen = {o["field"]: o for o in final[suspend["id"]]["verification"]["observed"]}
    assert seen["membershipStatus"] == {
        "field": "membershipStatus",
        "value": "suspended",
        "scope": "organization",
    }
    assert seen["userDirectoryStatus"]["value"] == "suspended"
    assert final[deactivate["id"]]["verification"]["observed"][0]["field"] == "accountStatus"
    assert counters.count(WRITE_ROUTE) == 0  # no group stripping
    assert not any(sim.has_confluence_access(a) for a in people)
    for account_id in people:  # the groups and roles stay for a restore
        assert state_of(env, account_id)[:2] == before[account_id][:2]
    await until_not_failing(env, OFFBOARDED, set(people), timeout=60)  # no manual sync

    listed = (await env.gql(LIST))["remediations"]
    assert {e["node"]["state"] for e in listed["edges"]} == {"VERIFIED"}
    records = (await env.gql(EVIDENCE, {"id": OFFBOARDED}))["evidence"]["edges"]
    recorded = [r["node"]["record"]["result"] for r in records]
    recorded = [b for b in recorded if b.get("kind") == "remediation"]
    assert sorted(b["actionId"] for b in recorded) == sorted(ids)  # one record each
    assert all(b["status"] == "VERIFIED" and b["approvedBy"] for b in recorded)
    writes = counters.writes()
    again = await env.gql(EXECUTE, {"input": {"actionIds": ids, "confirm": True}})
    assert {a["state"] for a in again["executeRemediation"]["actions"]} == {"VERIFIED"}
    assert counters.writes() == writes  # already done: nothing called again

    # restoreAccess (ADMIN, confirm) undoes both: exactly what the accounts had.
    unconfirmed = await env.gql(RESTORE, {"input": {"actionId": suspend["id"]}})
    assert unconfirmed["restoreAccess"]["userErrors"][0]["code"] == "CONFIRMATION_REQUIRED"
    viewer = await key_for(env, "VIEWER")
    forbidden = await env.gql(
        RESTORE, {"input": {"actionId": suspend["id"], "confirm": True}}, key=viewer
    )
    assert forbidden["restoreAccess"]["userErrors"][0]["code"] == "FORBIDDEN"
    async with watch_remediations(env) as updates:
        undo = []
        for action in (deactivate, suspend):
            payload = await env.gql(RESTORE, {"input": {"actionId": action["id"], "confirm": True}})
            assert payload["restoreAccess"]["userErrors"] == [], payload
            undo.append(payload["restoreAccess"]["action"])
        restored = await updates.finished({a["id"] for a in undo})
    assert {a["kind"] for a in undo} == {"REACTIVATE_ACCOUNT", "RESTORE_ACCESS"}
    assert {a["state"] for a in restored.values()} == {"VERIFIED"}, restored
    assert {a["source"]["actionId"] for a in restored.values()} == {
        deactivate["id"],
        suspend["id"],
    }
    for account_id in people:
        assert state_of(env, account_id) == before[account_id]
        assert sim.has_confluence_access(account_id)
    chain = (await env.gql(VERIFY))["verifyEvidenceChain"]
    assert chain["valid"] is True
    not_undoable = await env.gql(RESTORE, {"input": {"actionId": undo[0]["id"], "confirm": True}})
    assert not_undoable["restoreAccess"]["userErrors"][0]["code"] == "INVALID_STATE"


@pytest.mark.parametrize("env", ["wire"], indirect=True)
async def test_an_offboarded_person_with_direct_access_is_remediated_and_the_check_passes(
    env: Env,
) -> None:
    account_id = direct_only(env)
    await prepare(env)
    sim = env.sim.sim
    email = sim.site.accounts[account_id].email
    await offboard(env, {"identity": {"person": {"id": person_id(env.org_id, email)}}})
    await until_failing(env, OFFBOARDED, {account_id}, timeout=30)
    [action] = await plan_for(env, account_id)
    assert action["executable"] is True and action["state"] is None
    assert action["kind"] in ("SUSPEND_ACCESS", "DEACTIVATE_ACCOUNT")
    final = await execute(env, [action["id"]])
    assert final[action["id"]]["state"] == "VERIFIED", final
    assert not sim.has_confluence_access(account_id)
    await until_not_failing(env, OFFBOARDED, {account_id}, timeout=60)  # no manual sync


async def test_revoke_and_downgrade_remove_access_and_admin_rights_where_they_come_from(
    env: Env,
) -> None:
    sim = env.sim.sim
    site, faults, counters = sim.site, sim.faults, sim.counters
    admin_id = make_admin_member(env)
    direct = direct_only(
        env, exclude=frozenset({admin_id})
    )  # access through a role granted to it alone: revoked, not suspended
    operators = set(site.operators.values())
    revoked = next(
        a.account_id
        for a in sorted(site.accounts.values(), key=lambda a: a.account_id)
        if a.account_type == "atlassian"
        and a.email
        and a.account_status == "active"
        and a.account_id not in operators | {admin_id, direct}
        and site.groups_granting(a.account_id, USER)
    )
    await prepare(env)
    system = (await env.gql("query { criticalSystems { id } }"))["criticalSystems"][0]["id"]
    started = (await env.gql(START, {"input": {"criticalSystemId": system}}))["startAccessReview"]
    assert started["userErrors"] == []
    review_id = started["accessReview"]["id"]
    entries = (await env.gql(ENTRIES, {"id": review_id}))["accessReview"]["entries"]["edges"]
    by_account = {e["node"]["accountId"]: e["node"] for e in entries}
    assert {revoked, direct, admin_id} <= by_account.keys()
    decisions = ((revoked, "REVOKE"), (direct, "REVOKE"), (admin_id, "DOWNGRADE"))
    for account_id, decision in decisions:
        decision_input = {
            "entryId": by_account[account_id]["id"],
            "decision": decision,
            "note": f"{decision.lower()}: no longer needed",
        }
        decided = await env.gql(DECIDE, {"input": decision_input})
        assert decided["decideAccess"]["userErrors"] == []
    done = await env.gql(COMPLETE, {"input": {"reviewId": review_id, "markRemainingAs": "KEEP"}})
    assert done["completeAccessReview"]["userErrors"] == []
    await until_failing(env, VALID, {revoked, direct, admin_id}, timeout=30)

    plan = await plan_for(env)
    mine = [a for a in plan if a["accountId"] == revoked]
    access_groups = {g.group_id for g in site.groups_granting(revoked, USER)}
    assert {a["groupId"] for a in mine if a["kind"] == "REMOVE_FROM_GROUP"} == access_groups
    [role] = [a for a in plan if a["accountId"] == direct]
    assert role["kind"] == "REVOKE_ROLE" and role["executable"]
    assert role["resourceId"] == f"ari:cloud:confluence::site/{site.cloud_id}"
    assert not any(a["kind"] in ("SUSPEND_ACCESS", "DEACTIVATE_ACCOUNT") for a in plan)
    downgrade = [a for a in plan if a["accountId"] == admin_id]
    assert [a["groupName"] for a in downgrade] == ["confluence-administrators"]
    assert {a["source"]["decision"] for a in mine} == {"REVOKE"}
    assert counters.writes() == 0

    faults.script("429", WRITE_ROUTE, retry_after=1)
    faults.script("503", WRITE_ROUTE)
    runnable = [a["id"] for a in plan if a["executable"]]
    final = await execute(env, runnable)
    assert {a["state"] for a in final.values()} == {"VERIFIED"}, final
    assert counters.count(WRITE_ROUTE, 429) == 1 and counters.count(WRITE_ROUTE, 503) == 1
    assert site.groups_granting(revoked, USER) == []
    assert not site.is_admin(admin_id) and site.groups_of(admin_id)  # downgraded, not removed
    assert site.role_assignments(direct) == {}
    for account_id in (revoked, direct):
        assert not sim.has_confluence_access(account_id)
        assert sim.membership_status(account_id) == "active"  # never a suspension for a REVOKE
        assert site.accounts[account_id].account_status == "active"
    await until_not_failing(env, VALID, {revoked, direct, admin_id}, timeout=60)


async def test_the_cli_shows_the_plan_calls_nothing_on_dry_run_or_refusal_then_executes(
    env: Env,
) -> None:
    from rich.console import Console

    from api.remediation_cli import run_cli_remediation

    await prepare(env)
    target = (await staff_accounts(env))[0]
    await offboard(env, target)
    await until_failing(env, OFFBOARDED, {target["accountId"]}, timeout=30)
    container, counters = env.live.container, env.sim.sim.counters
    plan = await plan_for(env)
    asked: list[str] = []

    def refuse(question: str) -> bool:
        asked.append(question)
        return False

    console = Console(record=True, width=300)
    code = await run_cli_remediation(
        container, env.org_id, dry_run=True, console=console, confirm=refuse
    )
    text = console.export_text()
    assert code == 0 and all(a["id"] in text for a in plan) and "dry run" in text
    code = await run_cli_remediation(
        container, env.org_id, dry_run=False, console=console, confirm=refuse
    )
    assert code == 1 and asked == [f"Call Atlassian for {len(plan)} action(s)?"]
    assert counters.writes() == 0

    console = Console(record=True, width=300)
    code = await run_cli_remediation(
        container, env.org_id, dry_run=False, console=console, confirm=lambda _: True
    )
    assert code == 0, console.export_text()
    assert console.export_text().count("VERIFIED") == len(plan)
    assert counters.writes() >= len(plan)
    assert not env.sim.sim.has_confluence_access(target["accountId"])


START_OAUTH = """mutation { startConfluenceOAuth(input: {purpose: ACCESS_REVIEW,
  confirmAdminAccess: true}) { authorizationUrl integration { id } userErrors { code } } }"""
ENABLE = """mutation($confirm: Boolean!) { enableConfluenceRemediation(input: {confirm: $confirm}) {
  integration { id status grantedScopes } authorizationUrl message userErrors { code message } } }"""


async def test_an_oauth_connection_opts_in_to_the_write_scope_before_anything_is_called(
    env: Env,
) -> None:
    import httpx

    from testkit.connect import consent
    from tests.e2e.connect_support import redirect_params

    started = (await env.gql(START_OAUTH))["startConfluenceOAuth"]
    assert started["userErrors"] == []
    integration_id = started["integration"]["id"]
    async with httpx.AsyncClient(timeout=10, follow_redirects=False) as http:
        params = redirect_params(await consent(http, started["authorizationUrl"]))
        assert params["status"] == "connected"
        await prepare(env, integration_id)
        target = (await staff_accounts(env))[0]
        await offboard(env, target)
        await until_failing(env, OFFBOARDED, {target["accountId"]}, timeout=30)

        plan = await plan_for(env)
        assert plan and not any(a["executable"] for a in plan)
        assert all("write:confluence-groups" in a["blockedReason"] for a in plan)
        refused = await env.gql(
            EXECUTE, {"input": {"actionIds": [a["id"] for a in plan], "confirm": True}}
        )
        assert refused["executeRemediation"]["userErrors"][0]["code"] == "NOT_GRANTED"
        unconfirmed = (await env.gql(ENABLE, {"confirm": False}))["enableConfluenceRemediation"]
        assert unconfirmed["userErrors"][0]["code"] == "CONFIRMATION_REQUIRED"
        viewer = await key_for(env, "VIEWER")
        forbidden = await env.gql(ENABLE, {"confirm": True}, key=viewer)
        assert forbidden["enableConfluenceRemediation"]["userErrors"][0]["code"] == "FORBIDDEN"
        assert env.sim.sim.counters.writes() == 0

        enabled = (await env.gql(ENABLE, {"confirm": True}))["enableConfluenceRemediation"]
        assert enabled["userErrors"] == [] and enabled["integration"]["status"] == "CONNECTED"
        url = enabled["authorizationUrl"]
        assert "write%3Aconfluence-groups" in url
        declined = redirect_params(await consent(http, url, decision="deny"))
        assert declined["status"] == "denied"
        after_decline = await plan_for(env)
        assert not any(a["executable"] for a in after_decline)  # still CONNECTED, read-only

        url = (await env.gql(ENABLE, {"confirm": True}))["enableConfluenceRemediation"][
            "authorizationUrl"
        ]
        granted = redirect_params(await consent(http, url))
        assert granted["status"] == "connected" and granted["integration"] == integration_id

    plan = await plan_for(env)
    assert plan and all(a["executable"] for a in plan)
    again = (await env.gql(ENABLE, {"confirm": True}))["enableConfluenceRemediation"]
    assert again["authorizationUrl"] is None and "already granted" in again["message"]
    final = await execute(env, [a["id"] for a in plan])
    assert {a["state"] for a in final.values()} == {"VERIFIED"}, final
    assert env.sim.sim.site.groups_of(target["accountId"]) == []
