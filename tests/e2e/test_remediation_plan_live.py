"""The remediation plan for a live console, end to end (uvicorn, the simulator):
`remediationPlanActions` pages it with a total, `remediationPlanChanged` says when it
changed (first as it is, with `initial: true`), every action carries a `version` that orders
the mutation's answer and the pushes however they arrive, and `executeRemediation`'s
userErrors name the input from the argument down."""

from __future__ import annotations

import asyncio
from typing import Any

from gql import GraphQLRequest

from services.events import topic_for
from services.remediation.service import REMEDIATIONS_CHANNEL
from testkit.conditions import until
from testkit.graphql_client import gql_ws, listening
from tests.e2e.connect_support import Env, worker_env_fixture
from tests.e2e.remediation_support import PLAN, offboard, prepare, staff_accounts

PAGE = """query($after: String) { remediationPlanActions(first: 2, after: $after) {
  totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id state version } } } }"""
CHANGES = """subscription { remediationPlanChanged(initial: true) {
  totalCount executableCount inProgressCount initial } }"""
UPDATED = "subscription { remediationUpdated { id state version } }"
VERSIONS = """mutation($input: ExecuteRemediationInput!) { executeRemediation(input: $input) {
  actions { id state version } userErrors { field code message } } }"""


env = worker_env_fixture("remediation_sim")


async def test_the_plan_pages_announces_its_changes_and_orders_versions(env: Env) -> None:
    await prepare(env)
    # With the integration's Admin API key an offboarding is one action per account: three
    # offboarded people make a plan of three, more than one page of two.
    targets = (await staff_accounts(env))[:3]
    changes: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def pump() -> None:
        async with gql_ws(env.live.ws_url, env.key) as session:
            async for message in session.subscribe(GraphQLRequest(CHANGES)):
                await changes.put(message["remediationPlanChanged"])

    task = asyncio.create_task(pump())
    try:
        first = await asyncio.wait_for(changes.get(), 20)
        assert first == {
            "totalCount": 0,
            "executableCount": 0,
            "inProgressCount": 0,
            "initial": True,
        }
        for target in targets:  # the offboarding check fails: the plan grows
            await offboard(env, target)
        grown = await asyncio.wait_for(changes.get(), 30)
        while grown["totalCount"] < len(targets):
            grown = await asyncio.wait_for(changes.get(), 30)
        assert grown["initial"] is False and grown["totalCount"] == len(targets)
        assert grown["executableCount"] == grown["totalCount"]

        # Paged by action id with the total on every page; the old list says the same.
        pages, after = [], None
        while True:
            page = (await env.gql(PAGE, {"after": after}))["remediationPlanActions"]
            assert page["totalCount"] == grown["totalCount"]
            pages += [e["node"] for e in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        ids = [a["id"] for a in pages]
        assert ids == sorted(ids) and {a["version"] for a in pages} == {"0"}
        listed = (await env.gql(PLAN))["remediationPlan"]
        assert {a["id"] for a in listed} == set(ids)

        # userErrors name the input from the argument down.
        for input, field in (
            ({"actionIds": ids}, ["input", "confirm"]),
            ({"actionIds": [], "confirm": True}, ["input", "actionIds"]),
            ({"actionIds": ["rem_nope"], "confirm": True}, ["input", "actionIds"]),
        ):
            refused = (await env.gql(VERSIONS, {"input": input}))["executeRemediation"]
            assert [e["field"] for e in refused["userErrors"]] == [field], refused

        pushes: list[dict[str, Any]] = []

        async def add(message: dict[str, Any]) -> None:
            pushes.append(message["remediationUpdated"])

        topic = topic_for(env.org_id, REMEDIATIONS_CHANNEL)
        async with listening(env.live, env.key, GraphQLRequest(UPDATED), topic, add):
            answer = await env.gql(VERSIONS, {"input": {"actionIds": ids, "confirm": True}})
            answered = {a["id"]: a for a in answer["executeRemediation"]["actions"]}
            assert {a["state"] for a in answered.values()} == {"PENDING"}

            def finished() -> bool:
                done = {p["id"] for p in pushes if p["state"] in ("VERIFIED", "FAILED")}
                return set(ids) <= done

            await until(finished, what="every action to finish", timeout=60)
        final = {p["id"]: p for p in pushes if p["state"] in ("VERIFIED", "FAILED")}
        assert {a["state"] for a in final.values()} == {"VERIFIED"}
        for action_id, answer_version in ((i, a["version"]) for i, a in answered.items()):
            pushed = [u for u in pushes if u["id"] == action_id]
            versions = [u["version"] for u in pushed]  # in the order the pushes arrived
            assert versions == sorted(versions) and len(set(versions)) == len(versions)
            # A client keeping the greater version ends on VERIFIED whatever came first.
            assert max([answer_version, *versions]) == final[action_id]["version"]
            assert final[action_id]["version"] > answer_version

        # Approved, then carried out: the plan said so, and ends empty after the resync.
        seen = []
        while not seen or seen[-1]["totalCount"] != 0:
            seen.append(await asyncio.wait_for(changes.get(), 60))
        assert any(c["inProgressCount"] > 0 for c in seen)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
