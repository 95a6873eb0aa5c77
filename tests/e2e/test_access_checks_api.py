"""SPEC §4-§6 end to end: GraphQL over HTTP and WebSocket → Vigil (in-process worker) → the
simulator as a real server. A ``checkResultUpdated`` subscriber sees the access checks move
after API changes and after syncs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from testkit.connect import Env
from testkit.graphql_client import failing_items
from testkit.people import add_confluence_system, import_people, staff_people
from tests.conftest import STORE_KINDS, served_site
from tests.e2e.access_support import (
    RESULT_FIELDS,
    TRIGGER,
    connect_access_review,
    sync,
    watch_check,
)
from tests.e2e.connect_support import worker_env_fixture

OFFBOARDED = "confluence-offboarded-access-removed"
IDENTIFIED = "confluence-user-identified"
OFFBOARD = """mutation($input: OffboardPersonInput!) { offboardPerson(input: $input) {
  person { id status offboardedAt } userErrors { code message } } }"""
LINK = """mutation($input: LinkAccountInput!) { linkAccount(input: $input) {
  account { accountId identity { classification method person { email } } }
  userErrors { code message } } }"""
NOT_STAFF = """mutation($input: MarkAccountNotStaffInput!) { markAccountNotStaff(input: $input) {
  account { accountId identity { classification kind reason } } userErrors { code } } }"""
ACCOUNTS = """query($filter: AccountFilter) { accounts(filter: $filter, first: 500) {
  totalCount edges { node { accountId email accountType accountStatus
    identity { classification method person { id email status } } } } } }"""
CHECK = f"""query($id: ID!) {{ check(id: $id) {{ id title fix controls {{ framework id title }}
  result {{ {RESULT_FIELDS} }} }} }}"""
HISTORY = """query($id: ID!) { checkHistory(checkId: $id, first: 50) {
  totalCount edges { node { status failingItems(first: 500) { totalCount edges { node { resourceId } } } } } } }"""


access_sim = served_site(users=40, groups=5, pages=4, seed=21)
env = worker_env_fixture("access_sim", params=STORE_KINDS)


async def accounts(env: Env, **filter: object) -> list[dict[str, object]]:
    data = await env.gql(ACCOUNTS, {"filter": filter or None})
    return [edge["node"] for edge in data["accounts"]["edges"]]


async def prepare(env: Env) -> str:
    """Connected, synced, Confluence a critical system, HR's people imported."""
    integration_id = await connect_access_review(env)
    await sync(env, integration_id)
    assert await add_confluence_system(env) == integration_id
    people = staff_people(env.sim.sim.site)
    assert await import_people(env, people) == len(people)
    # The re-evaluation the import requested runs in the background: let it finish, so that
    # a subscriber opened next sees only what the test changes.
    await env.live.container.reevaluator.settle()
    return integration_id


async def test_offboarding_fails_until_the_account_is_deactivated_and_synced(env: Env) -> None:
    integration_id = await prepare(env)
    staff = await accounts(env, classification="STAFF", status="ACTIVE")
    operators = set(env.sim.sim.site.operators.values())  # Vigil signs in as one of them
    target = next(
        a
        for a in staff
        if a["identity"]["method"] == "AUTO_EMAIL" and a["accountId"] not in operators  # type: ignore[index]
    )
    person = target["identity"]["person"]  # type: ignore[index]

    async with watch_check(env, OFFBOARDED) as stream:
        left = (datetime.now(UTC) - timedelta(days=2)).isoformat()
        payload = await env.gql(
            OFFBOARD, {"input": {"personId": person["id"], "offboardedAt": left}}
        )
        assert payload["offboardPerson"]["userErrors"] == []
        failing = await stream.until("FAILING")
        assert [i["resourceId"] for i in failing_items(failing)] == [target["accountId"]]
        assert failing["checkId"] == OFFBOARDED and failing["snapshotId"] and failing["dataAsOf"]

        env.sim.sim.site.set_account_status(str(target["accountId"]), "inactive")
        await sync(env, integration_id)
        passing = await stream.until("PASSING", timeout=10)
        assert failing_items(passing) == [] and passing["snapshotId"] != failing["snapshotId"]
    assert [r["status"] for r in stream.received] == ["FAILING", "PASSING"]

    check = (await env.gql(CHECK, {"id": OFFBOARDED}))["check"]
    assert check["result"]["status"] == "PASSING"
    assert {"framework": "ISO27001", "id": "A.6.5"} in [
        {k: c[k] for k in ("framework", "id")} for c in check["controls"]
    ]
    history = (await env.gql(HISTORY, {"id": OFFBOARDED}))["checkHistory"]
    assert [e["node"]["status"] for e in history["edges"]][:2] == ["PASSING", "FAILING"]


async def test_user_identified_passes_when_the_last_account_is_linked(env: Env) -> None:
    await prepare(env)
    people = {
        p.lower(): p for p in [a.email for a in env.sim.sim.site.accounts.values() if a.email]
    }
    lookup = await env.gql("""{ people(first: 500) { edges { node { id email } } } }""")
    person_ids = {e["node"]["email"].lower(): e["node"]["id"] for e in lookup["people"]["edges"]}
    site = env.sim.sim.site
    unidentified = await accounts(env, classification="UNIDENTIFIED", status="ACTIVE")
    assert unidentified, "the simulated site has accounts with hidden emails"
    linkable = [
        a for a in unidentified if site.accounts[str(a["accountId"])].email.lower() in person_ids
    ]
    assert linkable, "a hidden-email account of a known person"
    last = linkable[-1]
    for account in unidentified:
        if account is last:
            continue
        truth = site.accounts[str(account["accountId"])]
        if truth.email.lower() in person_ids:
            data = await env.gql(
                LINK,
                {
                    "input": {
                        "accountId": account["accountId"],
                        "personId": person_ids[truth.email.lower()],
                    }
                },
            )
            assert data["linkAccount"]["userErrors"] == []
        else:
            data = await env.gql(
                NOT_STAFF,
                {
                    "input": {
                        "accountId": account["accountId"],
                        "kind": "EXTERNAL",
                        "reason": "customer portal",
                    }
                },
            )
            assert data["markAccountNotStaff"]["userErrors"] == []
    assert people

    before = (await env.gql(CHECK, {"id": IDENTIFIED}))["check"]["result"]
    async with watch_check(env, IDENTIFIED) as stream:
        if before["status"] != "FAILING":
            await stream.until("FAILING")
        email = site.accounts[str(last["accountId"])].email.lower()
        data = await env.gql(
            LINK, {"input": {"accountId": last["accountId"], "personId": person_ids[email]}}
        )
        linked = data["linkAccount"]
        assert linked["userErrors"] == []
        assert linked["account"]["identity"] == {
            "classification": "STAFF",
            "method": "MANUAL",
            "person": {"email": email},
        }
        passing = await stream.until("PASSING")
    assert failing_items(passing) == []
    assert await accounts(env, classification="UNIDENTIFIED", status="ACTIVE") == []


async def test_a_refused_credential_turns_the_access_checks_to_error(env: Env) -> None:
    integration_id = await prepare(env)
    site = env.sim.sim.site
    operator = site.operators["admin"]  # the account Vigil's API token belongs to
    async with watch_check(env, None) as stream:
        site.set_account_status(operator, "inactive")  # Atlassian now refuses the token
        try:
            trigger = (await env.gql(TRIGGER, {"id": integration_id}))["triggerSync"]
            assert trigger["userErrors"] == []
            error = await stream.until("ERROR", timeout=20, check_id=OFFBOARDED)
            await stream.until("ERROR", timeout=20, check_id=IDENTIFIED)
        finally:
            site.set_account_status(operator, "active")
    assert error["reason"].startswith("reconnect Confluence") and "old" in error["reason"]
    assert error["dataAsOf"] is not None and error["snapshotId"] is not None
    checks = (await env.gql("{ checks { id result { status } } }"))["checks"]
    statuses = {c["id"]: c["result"]["status"] for c in checks if c["result"]}
    assert statuses[OFFBOARDED] == statuses[IDENTIFIED] == "ERROR"
    assert statuses["confluence-access-review-completed"] == "FAILING"  # reads no snapshot
