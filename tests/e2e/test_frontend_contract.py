"""What a frontend's normalised cache and live views rely on, end to end under uvicorn with
the simulator: a pushed result links to its Check (a cache merges it into `checks`),
`initial: true` sends the current state once the subscription is live, `changedAt` moves
when the failing set changes and `statusChangedAt` when the status does, a person's
accounts and the accounts of offboarded people, and offboardPerson's refusals."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from gql import GraphQLRequest

from testkit.graphql_client import Received, gql_ws
from testkit.people import add_confluence_system, import_people
from tests.conftest import served_site
from tests.e2e.access_support import connect_access_review, sync
from tests.e2e.connect_support import Env, worker_env_fixture

OFFBOARDED = "confluence-offboarded-access-removed"
OFFBOARD = """mutation($input: OffboardPersonInput!) { offboardPerson(input: $input) {
  person { id status offboardedAt } userErrors { field code message } } }"""
PUSHES = """subscription($id: ID) { checkResultUpdated(checkId: $id, initial: true) {
  id checkId status changedAt statusChangedAt failingItems(first: 10) { totalCount }
  check { id title result { id status } } } }"""
CHECKS = "{ checks { id result { id status } } }"
HISTORY = """query($id: ID!) { checkHistory(checkId: $id, first: 5) {
  edges { node { id check { id result { id } } } } } }"""
PEOPLE = """{ people(first: 100, filter: {status: ACTIVE}) { edges { node { id email
  accounts { accountId identity { person { id } } } } } } }"""
ACCOUNTS = """query($filter: AccountFilter) { accounts(filter: $filter, first: 100) {
  totalCount edges { node { accountId identity { person { id status } } } } } }"""


contract_sim = served_site(users=30, groups=4, pages=2, seed=26)
env = worker_env_fixture("contract_sim")


async def test_pushes_merge_into_checks_and_times_follow_the_failing_set(env: Env) -> None:
    await sync(env, await connect_access_review(env))
    await add_confluence_system(env)
    site = env.sim.sim.site
    operators = set(site.operators.values())  # Vigil signs in as one of them: keep it
    staff = sorted(
        (
            a
            for a in site.accounts.values()
            if a.account_type == "atlassian"
            and a.email
            and a.account_status == "active"
            and a.account_id not in operators
        ),
        key=lambda a: a.account_id,
    )
    people = [{"email": a.email, "name": a.display_name} for a in staff]
    await import_people(env, people)
    # Person.accounts: each person's linked accounts (by email here).
    listed = (await env.gql(PEOPLE))["people"]["edges"]
    by_email = {e["node"]["email"]: e["node"] for e in listed}
    ann, bob = by_email[staff[0].email], by_email[staff[1].email]
    assert [a["accountId"] for a in ann["accounts"]] == [staff[0].account_id]
    assert ann["accounts"][0]["identity"]["person"]["id"] == ann["id"]

    pushes = Received()

    async def pump() -> None:
        async with gql_ws(env.live.ws_url, env.key) as session:
            request = GraphQLRequest(PUSHES, variable_values={"id": OFFBOARDED})
            async for message in session.subscribe(request):
                await pushes.add(message["checkResultUpdated"])

    task = asyncio.create_task(pump())
    try:
        # initial: true — the current result comes first, once the subscription is live:
        # whatever changes after this message is pushed.
        current = await pushes.nth(0)
        assert current["status"] == "PASSING"
        checks = {c["id"]: c for c in (await env.gql(CHECKS))["checks"]}
        assert current["id"] == checks[OFFBOARDED]["result"]["id"]
        # The link a normalised cache keys on: Check:<id>.result is this very result.
        assert current["check"]["id"] == OFFBOARDED
        assert current["check"]["result"] == {"id": current["id"], "status": "PASSING"}

        left = (datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)).isoformat()
        pushed = []
        for n, person in enumerate((ann, bob), start=1):
            data = await env.gql(
                OFFBOARD, {"input": {"personId": person["id"], "offboardedAt": left}}
            )
            assert data["offboardPerson"]["userErrors"] == []
            pushed.append(await pushes.nth(n))
            assert pushed[-1]["status"] == "FAILING"
            assert pushed[-1]["failingItems"]["totalCount"] == n
        one, two = pushed
        assert two["check"]["result"] == {"id": two["id"], "status": "FAILING"}
        # Same status, another failing set: changedAt moves, statusChangedAt stays.
        assert one["id"] != two["id"] and one["changedAt"] == one["statusChangedAt"]
        assert two["changedAt"] > one["changedAt"]
        assert two["statusChangedAt"] == one["statusChangedAt"]
        assert two["statusChangedAt"] > current["statusChangedAt"]
        # The query afterwards names the pushed result: a cache keyed on ids agrees with it.
        checks = {c["id"]: c for c in (await env.gql(CHECKS))["checks"]}
        assert checks[OFFBOARDED]["result"]["id"] == two["id"]
        # A history entry links to the check too, whose result is the latest one.
        history = (await env.gql(HISTORY, {"id": OFFBOARDED}))["checkHistory"]["edges"]
        assert {e["node"]["check"]["result"]["id"] for e in history} == {two["id"]}
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    # The accounts of people who left.
    offboarded = (await env.gql(ACCOUNTS, {"filter": {"personStatus": "OFFBOARDED"}}))["accounts"]
    assert offboarded["totalCount"] == 2
    assert {e["node"]["accountId"] for e in offboarded["edges"]} == {
        staff[0].account_id,
        staff[1].account_id,
    }
    assert {e["node"]["identity"]["person"]["status"] for e in offboarded["edges"]} == {
        "OFFBOARDED"
    }

    # offboardPerson's refusals name the input at fault; nothing changes.
    carl = by_email[staff[2].email]
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    for input, field, code in (
        (
            {"personId": carl["id"], "offboardedAt": tomorrow},
            ["input", "offboardedAt"],
            "VALIDATION_FAILED",
        ),
        (
            {"personId": carl["id"], "offboardedAt": "2026-01-05T09:00:00"},
            ["input", "offboardedAt"],
            "VALIDATION_FAILED",
        ),
        (
            {"personId": ann["id"], "offboardedAt": "2026-01-05T09:00:00Z"},
            ["input", "personId"],
            "ALREADY_OFFBOARDED",
        ),
    ):
        payload = (await env.gql(OFFBOARD, {"input": input}))["offboardPerson"]
        assert payload["person"] is None
        assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(field, code)]
    again = await env.gql(OFFBOARD, {"input": {"personId": ann["id"], "offboardedAt": left}})
    assert (
        again["offboardPerson"]["person"]["offboardedAt"]
        == datetime.fromisoformat(left).isoformat()
    )
