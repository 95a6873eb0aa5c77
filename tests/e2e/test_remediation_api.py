"""Issue 16 end to end: GraphQL over HTTP and WebSocket → Vigil (in-process worker) → the
simulator. An offboarded person's active account is planned, refused without an ADMIN's
``confirm: true`` (the simulator sees zero writes), executed, verified by a read-back,
recorded as evidence, and the offboarding check goes PASSING through the sync the
execution triggers. REVOKE and DOWNGRADE decisions are carried out the same way; a 403 for
one action and 429/503 answers during execution are handled."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from gql import GraphQLRequest

from services.events import topic_for
from services.remediation.service import REMEDIATIONS_CHANNEL
from simulator import RunningSimulator, Simulator, generate_site, start_simulator
from simulator.remediation import REMOVE_MEMBER
from testkit.connect import Env
from testkit.graphql_client import failing_items, gql_ws
from tests.conditions import until
from tests.conftest import STORE_KINDS
from tests.e2e.access_support import RUNS, connect_access_review, watch_check
from tests.e2e.connect_support import make_env

OFFBOARDED = "confluence-offboarded-access-removed"
VALID = "confluence-access-valid"
WRITE_ROUTE = f"DELETE {REMOVE_MEMBER}"
ADD_SYSTEM = """mutation { addCriticalSystem(input: {system: CONFLUENCE}) {
  criticalSystem { id } userErrors { code message } } }"""
UPSERT = """mutation($people: [PersonInput!]!) { upsertPeople(input: $people) {
  created userErrors { code message } } }"""
OFFBOARD = """mutation($input: OffboardPersonInput!) { offboardPerson(input: $input) {
  person { id status } userErrors { code message } } }"""
ACCOUNTS = """query { accounts(filter: {classification: STAFF, status: ACTIVE}, first: 500) {
  edges { node { accountId isAdmin groups identity { method person { id email } } } } } }"""
ACTION = """id kind accountId groupId groupName request reason executable blockedReason state error
  evidenceId source { type checkId resourceId reviewId entryId decision }
  calls { method endpoint status message } verification { confirmed detail }"""
PLAN = f"""query($filter: RemediationPlanFilter) {{ remediationPlan(filter: $filter) {{
  {ACTION} }} }}"""
EXECUTE = f"""mutation($input: ExecuteRemediationInput!) {{ executeRemediation(input: $input) {{
  actions {{ {ACTION} }} userErrors {{ field code message }} }} }}"""
LIST = f"""query {{ remediations(first: 100) {{ totalCount edges {{ node {{ {ACTION} }} }} }} }}"""
UPDATED = f"""subscription {{ remediationUpdated {{ {ACTION} }} }}"""
CREATE_KEY = """mutation($role: Role!) { createApiKey(input: {role: $role, name: "k"}) {
  secret userErrors { code } } }"""
VERIFY = "query { verifyEvidenceChain { valid checkedCount } }"
EVIDENCE = """query($id: ID!) { evidence(checkId: $id, first: 50) {
  edges { node { id status record } } } }"""
START = """mutation($input: StartAccessReviewInput!) { startAccessReview(input: $input) {
  accessReview { id } userErrors { code message } } }"""
ENTRIES = """query($id: ID!) { accessReview(id: $id) {
  entries(first: 500) { edges { node { id accountId isAdmin } } } } }"""
DECIDE = """mutation($input: DecideAccessInput!) { decideAccess(input: $input) {
  entry { id decision } userErrors { code message } } }"""
COMPLETE = """mutation($input: CompleteAccessReviewInput!) { completeAccessReview(input: $input) {
  accessReview { status } userErrors { code message } } }"""


@pytest.fixture
def remediation_sim() -> Iterator[RunningSimulator]:
    """A fresh site per test: remediation changes the site's groups."""
    sim = Simulator(generate_site(users=30, groups=5, pages=2, seed=16))
    with start_simulator(sim) as running:
        yield running


@pytest.fixture(params=STORE_KINDS)
async def env(
    request: pytest.FixtureRequest, remediation_sim: RunningSimulator
) -> AsyncIterator[Env]:
    async for e in make_env(request, remediation_sim, run_worker=True, scheduler_tick_seconds=3600):
        yield e


async def first_sync(env: Env, integration_id: str, timeout: float = 90) -> None:
    """Wait for the sync that connecting requested (no second trigger racing the first)."""
    async with asyncio.timeout(timeout):
        while True:
            edges = (await env.gql(RUNS, {"id": integration_id}))["syncRuns"]["edges"]
            status = edges[0]["node"]["status"] if edges else None
            assert status != "FAILED", edges
            if status == "SUCCEEDED":
                return
            await asyncio.sleep(0.05)


async def prepare(env: Env, integration_id: str | None = None) -> str:
    """Connected (API token of a site admin), synced, Confluence critical, people imported."""
    integration_id = integration_id or await connect_access_review(env)
    await first_sync(env, integration_id)
    added = (await env.gql(ADD_SYSTEM))["addCriticalSystem"]
    assert added["userErrors"] == []
    people = [
        {"email": a.email, "name": a.display_name, "jobRole": "Engineer"}
        for a in env.sim.sim.site.accounts.values()
        if a.account_type == "atlassian" and a.email
    ]
    assert (await env.gql(UPSERT, {"people": people}))["upsertPeople"]["userErrors"] == []
    return integration_id


async def staff_accounts(env: Env) -> list[dict[str, Any]]:
    operators = set(env.sim.sim.site.operators.values())  # Vigil signs in as one of them
    edges = (await env.gql(ACCOUNTS))["accounts"]["edges"]
    return [
        e["node"]
        for e in edges
        if e["node"]["identity"]["method"] == "AUTO_EMAIL"
        and e["node"]["accountId"] not in operators
    ]


async def key_for(env: Env, role: str) -> str:
    created = (await env.gql(CREATE_KEY, {"role": role}))["createApiKey"]
    assert created["userErrors"] == []
    return str(created["secret"])


class Updates:
    """``remediationUpdated`` events as they arrive."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self._new = asyncio.Condition()

    async def add(self, action: dict[str, Any]) -> None:
        async with self._new:
            self.received.append(action)
            self._new.notify_all()

    async def finished(self, ids: set[str], timeout: float = 60) -> dict[str, dict[str, Any]]:
        """The final (VERIFIED or FAILED) event of each of ``ids``."""
        async with asyncio.timeout(timeout), self._new:
            while True:
                done = {a["id"]: a for a in self.received if a["state"] in ("VERIFIED", "FAILED")}
                if ids <= done.keys():
                    return {i: done[i] for i in ids}
                await self._new.wait()


@asynccontextmanager
async def watch_remediations(env: Env) -> AsyncIterator[Updates]:
    updates = Updates()
    topic = topic_for(env.org_id, REMEDIATIONS_CHANNEL)
    before = env.live.container.bus.subscriber_count(topic)

    async def pump() -> None:
        async with gql_ws(env.live.ws_url, env.key) as session:
            async for event in session.subscribe(GraphQLRequest(UPDATED)):
                await updates.add(event["remediationUpdated"])

    task = asyncio.create_task(pump())
    try:
        await until(
            lambda: env.live.container.bus.subscriber_count(topic) > before or task.done(),
            what="the subscription to listen on the bus",
        )
        if task.done():
            task.result()
        yield updates
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def offboard(env: Env, account: dict[str, Any]) -> None:
    left = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    person_id = account["identity"]["person"]["id"]
    payload = await env.gql(OFFBOARD, {"input": {"personId": person_id, "offboardedAt": left}})
    assert payload["offboardPerson"]["userErrors"] == []


async def test_offboarded_account_is_removed_verified_recorded_and_the_check_passes(
    env: Env,
) -> None:
    await prepare(env)
    target = (await staff_accounts(env))[0]
    account_id = target["accountId"]
    site = env.sim.sim.site
    counters = env.sim.sim.counters
    async with watch_check(env, OFFBOARDED) as checks:
        await offboard(env, target)
        failing = await checks.until("FAILING", timeout=20)
        assert [i["resourceId"] for i in failing_items(failing)] == [account_id]

        plan = (await env.gql(PLAN, {"filter": {"accountId": account_id}}))["remediationPlan"]
        groups_before = {g.group_id for g in site.groups_of(account_id)}
        removals = [a for a in plan if a["kind"] == "REMOVE_FROM_GROUP"]
        assert {a["groupId"] for a in removals} == groups_before and removals
        # The integration has an Admin API key: the access is also suspended in the directory.
        [suspension] = [a for a in plan if a["kind"] == "SUSPEND_ACCESS"]
        assert suspension["groupId"] == env.sim.sim.credentials.org_id
        assert suspension["request"].startswith(
            f"POST /admin/v2/orgs/{suspension['groupId']}/directories/{{directoryId}}/users/"
            f"{account_id}/suspend"
        )
        for action in plan:
            assert action["executable"] and action["state"] is None
            assert action["source"] == {
                "type": "CHECK",
                "checkId": OFFBOARDED,
                "resourceId": account_id,
                "reviewId": None,
                "entryId": None,
                "decision": None,
            }
        for action in removals:
            assert action["request"] == (
                f"{WRITE_ROUTE}?groupId={action['groupId']}&accountId={account_id}"
            )
        ids = [a["id"] for a in plan]
        assert counters.writes() == 0  # planning calls nothing

        for role in ("VIEWER", "REVIEWER"):
            refused = await env.gql(
                EXECUTE,
                {"input": {"actionIds": ids, "confirm": True}},
                key=await key_for(env, role),
            )
            assert refused["executeRemediation"]["userErrors"][0]["code"] == "FORBIDDEN"
        unconfirmed = await env.gql(EXECUTE, {"input": {"actionIds": ids}})
        assert unconfirmed["executeRemediation"]["userErrors"][0]["code"] == (
            "CONFIRMATION_REQUIRED"
        )
        unknown = await env.gql(EXECUTE, {"input": {"actionIds": ["rem_nope"], "confirm": True}})
        assert unknown["executeRemediation"]["userErrors"][0]["code"] == "NOT_FOUND"
        assert counters.writes() == 0  # no write without an ADMIN's confirm: true

        async with watch_remediations(env) as updates:
            executed = await env.gql(EXECUTE, {"input": {"actionIds": ids, "confirm": True}})
            payload = executed["executeRemediation"]
            assert payload["userErrors"] == []
            assert [a["state"] for a in payload["actions"]] == ["PENDING"] * len(ids)
            final = await updates.finished(set(ids))
        assert {a["state"] for a in final.values()} == {"VERIFIED"}, final
        for action in final.values():
            expected = [204] if action["kind"] == "REMOVE_FROM_GROUP" else [200, 204]
            assert [c["status"] for c in action["calls"]] == expected  # (directories, suspend)
            assert action["verification"]["confirmed"] is True and action["evidenceId"]
        assert "suspended" in final[suspension["id"]]["verification"]["detail"]
        assert site.groups_of(account_id) == []
        assert account_id in env.sim.sim.suspended
        assert counters.count(WRITE_ROUTE) == len(removals)
        assert counters.writes() == len(ids)

        passing = await checks.until("PASSING", timeout=60, check_id=OFFBOARDED)
        assert failing_items(passing) == []  # no manual sync: execution triggered one

    listed = (await env.gql(LIST))["remediations"]
    assert listed["totalCount"] == len(ids)
    assert {e["node"]["state"] for e in listed["edges"]} == {"VERIFIED"}
    assert (await env.gql(PLAN, {"filter": {"accountId": account_id}}))["remediationPlan"] == []
    records = (await env.gql(EVIDENCE, {"id": OFFBOARDED}))["evidence"]["edges"]
    bodies = [r["node"]["record"]["result"] for r in records]
    recorded = [b for b in bodies if b.get("kind") == "remediation"]
    assert {b["actionId"] for b in recorded} == set(ids)
    assert all(b["status"] == "VERIFIED" and b["approvedBy"] for b in recorded)
    assert all(b["calls"][-1]["status"] == 204 for b in recorded)
    assert all(b["verification"]["confirmed"] for b in recorded)
    chain = (await env.gql(VERIFY))["verifyEvidenceChain"]
    assert chain["valid"] is True and chain["checkedCount"] >= len(ids)

    again = await env.gql(EXECUTE, {"input": {"actionIds": ids, "confirm": True}})
    assert {a["state"] for a in again["executeRemediation"]["actions"]} == {"VERIFIED"}
    assert counters.writes() == len(ids)  # already done: nothing called again


CHECK = """query($id: ID!) { check(id: $id) { result { status failingItems(first: 500) { totalCount edges { node { resourceId } } } } } }"""


async def failing_ids(env: Env, check_id: str) -> set[str]:
    result = (await env.gql(CHECK, {"id": check_id}))["check"]["result"]
    return {i["resourceId"] for i in failing_items(result)} if result else set()


async def until_not_failing(env: Env, check_id: str, accounts: set[str], timeout: float) -> None:
    """Poll the check until none of ``accounts`` is a failing item (a condition, not a sleep)."""
    async with asyncio.timeout(timeout):
        while await failing_ids(env, check_id) & accounts:
            await asyncio.sleep(0.1)


def make_admin(env: Env) -> str:
    """Put one ordinary staff account into the site's admin group (before the first sync)."""
    site = env.sim.sim.site
    operators = set(site.operators.values())
    admins = site.group_by_name("confluence-administrators") or site.add_group(
        "confluence-administrators", "grp-confluence-admins"
    )
    account = next(
        a
        for a in sorted(site.accounts.values(), key=lambda a: a.account_id)
        if a.account_type == "atlassian"
        and a.email
        and a.account_status == "active"
        and a.account_id not in operators
        and not site.is_admin(a.account_id)
    )
    site.add_member(admins.group_id, account.account_id)
    return account.account_id


async def test_revoke_and_downgrade_decisions_are_carried_out_through_429_and_503(
    env: Env,
) -> None:
    admin_id = make_admin(env)
    await prepare(env)
    site, faults = env.sim.sim.site, env.sim.sim.faults
    system = (await env.gql("query { criticalSystems { id } }"))["criticalSystems"][0]["id"]
    started = (await env.gql(START, {"input": {"criticalSystemId": system}}))["startAccessReview"]
    assert started["userErrors"] == []
    review_id = started["accessReview"]["id"]
    entries = (await env.gql(ENTRIES, {"id": review_id}))["accessReview"]["entries"]["edges"]
    by_account = {e["node"]["accountId"]: e["node"] for e in entries}
    staff = [a["accountId"] for a in await staff_accounts(env) if a["accountId"] != admin_id]
    revoked = next(a for a in staff if a in by_account)
    for account_id, decision in ((revoked, "REVOKE"), (admin_id, "DOWNGRADE")):
        entry_id = by_account[account_id]["id"]
        note = f"{decision.lower()}: no longer needed"
        decision_input = {"entryId": entry_id, "decision": decision, "note": note}
        decided = await env.gql(DECIDE, {"input": decision_input})
        assert decided["decideAccess"]["userErrors"] == []
    done = await env.gql(COMPLETE, {"input": {"reviewId": review_id, "markRemainingAs": "KEEP"}})
    assert done["completeAccessReview"]["userErrors"] == []
    async with asyncio.timeout(30):  # the completed review makes the valid check fail for both
        while not {revoked, admin_id} <= await failing_ids(env, VALID):
            await asyncio.sleep(0.1)

    plan = (await env.gql(PLAN, {"filter": {"source": "REVIEW"}}))["remediationPlan"]
    by = {(a["accountId"], a["groupId"]): a for a in plan}
    assert {g for a, g in by if a == revoked} == {g.group_id for g in site.groups_of(revoked)}
    admin_groups = {g.group_id for g in site.groups_of(admin_id) if site.is_admin(admin_id)}
    assert {g for a, g in by if a == admin_id} == {
        g.group_id for g in site.groups_of(admin_id) if g.name in site.admin_group_names
    }
    assert admin_groups  # the account keeps its other groups (downgrade, not revoke)
    sources = {a["accountId"]: a["source"] for a in plan}
    assert sources[revoked]["decision"] == "REVOKE" and sources[revoked]["reviewId"] == review_id
    assert sources[admin_id]["decision"] == "DOWNGRADE"
    assert env.sim.sim.counters.writes() == 0

    faults.script("429", WRITE_ROUTE, retry_after=1)
    faults.script("503", WRITE_ROUTE)
    ids = [a["id"] for a in plan]
    async with watch_remediations(env) as updates:
        executed = await env.gql(EXECUTE, {"input": {"actionIds": ids, "confirm": True}})
        assert executed["executeRemediation"]["userErrors"] == []
        final = await updates.finished(set(ids))
    assert {a["state"] for a in final.values()} == {"VERIFIED"}, final
    assert env.sim.sim.counters.count(WRITE_ROUTE, 429) == 1
    assert env.sim.sim.counters.count(WRITE_ROUTE, 503) == 1
    assert env.sim.sim.counters.count(WRITE_ROUTE, 204) == len(ids)
    assert site.groups_of(revoked) == []
    assert not site.is_admin(admin_id) and site.groups_of(admin_id)  # downgraded, not removed
    await until_not_failing(env, VALID, {revoked, admin_id}, timeout=60)


async def test_a_403_fails_one_action_with_atlassians_answer_and_the_rest_are_done(
    env: Env,
) -> None:
    await prepare(env)
    site = env.sim.sim.site
    target = next(a for a in await staff_accounts(env) if len(site.groups_of(a["accountId"])) > 1)
    account_id = target["accountId"]
    async with watch_check(env, OFFBOARDED) as checks:
        await offboard(env, target)
        await checks.until("FAILING", timeout=20)
    plan = (await env.gql(PLAN, {"filter": {"accountId": account_id}}))["remediationPlan"]
    ids = [a["id"] for a in plan]
    assert len(ids) > 1
    body = '{"statusCode":403,"message":"Only site admins may remove members from groups"}'
    env.sim.sim.faults.script(
        "status", WRITE_ROUTE, status=403, body=body, content_type="application/json"
    )
    async with watch_remediations(env) as updates:
        executed = await env.gql(EXECUTE, {"input": {"actionIds": ids, "confirm": True}})
        assert executed["executeRemediation"]["userErrors"] == []
        final = await updates.finished(set(ids))
    failed = [a for a in final.values() if a["state"] == "FAILED"]
    assert len(failed) == 1, final
    assert failed[0]["calls"][0]["status"] == 403
    assert "403" in failed[0]["error"] and "site admins" in failed[0]["error"]
    assert len([a for a in final.values() if a["state"] == "VERIFIED"]) == len(ids) - 1
    assert [g.group_id for g in site.groups_of(account_id)] == [failed[0]["groupId"]]

    # The failed action stays in the plan; approving it again retries it (now allowed).
    retried = await env.gql(EXECUTE, {"input": {"actionIds": [failed[0]["id"]], "confirm": True}})
    assert [a["state"] for a in retried["executeRemediation"]["actions"]] == ["PENDING"]
    async with asyncio.timeout(30):
        while site.groups_of(account_id):
            await asyncio.sleep(0.05)


async def test_the_cli_shows_the_plan_calls_nothing_on_dry_run_or_refusal_then_executes(
    env: Env,
) -> None:
    from rich.console import Console

    from api.remediation_cli import run_cli_remediation

    await prepare(env)
    target = (await staff_accounts(env))[0]
    async with watch_check(env, OFFBOARDED) as checks:
        await offboard(env, target)
        await checks.until("FAILING", timeout=20)
    container, counters = env.live.container, env.sim.sim.counters
    plan = (await env.gql(PLAN))["remediationPlan"]
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
    assert counters.writes() == len(plan)  # the group removals and the suspension
    assert env.sim.sim.site.groups_of(target["accountId"]) == []


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
        async with watch_check(env, OFFBOARDED) as checks:
            await offboard(env, target)
            await checks.until("FAILING", timeout=20)

        plan = (await env.gql(PLAN))["remediationPlan"]
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
        after_decline = (await env.gql(PLAN))["remediationPlan"]
        assert not any(a["executable"] for a in after_decline)  # still CONNECTED, read-only

        url = (await env.gql(ENABLE, {"confirm": True}))["enableConfluenceRemediation"][
            "authorizationUrl"
        ]
        granted = redirect_params(await consent(http, url))
        assert granted["status"] == "connected" and granted["integration"] == integration_id

    plan = (await env.gql(PLAN))["remediationPlan"]
    assert plan and all(a["executable"] for a in plan)
    again = (await env.gql(ENABLE, {"confirm": True}))["enableConfluenceRemediation"]
    assert again["authorizationUrl"] is None and "already granted" in again["message"]
    ids = [a["id"] for a in plan]
    async with watch_remediations(env) as updates:
        executed = await env.gql(EXECUTE, {"input": {"actionIds": ids, "confirm": True}})
        assert executed["executeRemediation"]["userErrors"] == []
        final = await updates.finished(set(ids))
    assert {a["state"] for a in final.values()} == {"VERIFIED"}, final
    assert env.sim.sim.site.groups_of(target["accountId"]) == []
