"""Policies, evidence and exceptions end to end: GraphQL over HTTP and WebSocket → Vigil (with
its in-process worker) → the simulator as a real Confluence site; both stores."""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from gql import GraphQLRequest

from services.checks.events import CHECKS_CHANNEL
from services.events import topic_for
from services.models import Role
from services.policies.catalogue import BY_TYPE, PolicyType, normalise_title
from simulator import RunningSimulator, Simulator, generate_site, start_simulator
from testkit.connect import Env
from testkit.graphql_client import failing_items, gql_ws
from tests.conftest import STORE_KINDS
from tests.e2e.access_support import connect_api_token
from tests.e2e.connect_support import make_env

SETUP, CURRENT = "confluence-document-setup", "confluence-policy-current"
POLICIES = """{ policies { policyType title frameworks document {
  policyType pageId title status url lastModifiedAt missingSections version pageStatus method } } }"""
APPROVE = """mutation($t: PolicyType!) { approvePolicyDocument(input: {policyType: $t}) {
  requirement { document { status } } userErrors { code message } } }"""
MAP = """mutation($t: PolicyType!, $p: ID!) { mapPolicyDocument(input: {policyType: $t, pageId: $p}) {
  requirement { document { pageId status method } } userErrors { field code message } } }"""
UNMAP = """mutation($t: PolicyType!) { unmapPolicyDocument(policyType: $t) {
  requirement { document { pageId } } userErrors { code message } } }"""
CHECK = """query($id: ID!) { check(id: $id) { id title controls { framework id } result {
  status reason failingItems(first: 500) { totalCount edges { node { resourceId reason } } } exceptedItems { resourceId }
  snapshotId dataAsOf evidenceId } } }"""
RESULTS = """subscription($id: ID) { checkResultUpdated(checkId: $id) {
  checkId status failingItems(first: 500) { totalCount edges { node { resourceId exception { id } } } } evidenceId
  exceptedItems { resourceId exception { id expiresAt createdByActor { role } } } } }"""
EXCEPT = """mutation($input: CreateCheckExceptionInput!) { createCheckException(input: $input) {
  exception { id status expiresAt resourceId } userErrors { field code message } } }"""
REVOKE = """mutation($id: ID!) { revokeCheckException(id: $id) {
  exception { id status } userErrors { code message } } }"""
EVIDENCE = """query($id: ID!, $first: Int, $after: String) { evidence(checkId: $id, first: $first,
  after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node {
  id sequence checkId status snapshotId prevHash sha256 record canonicalJson } } } }"""
VERIFY = """{ verifyEvidenceChain { valid checkedCount headSequence
  firstBrokenLink { sequence recordId problem message } } }"""
TRIGGER = """mutation($id: ID!) { triggerSync(integrationId: $id) { userErrors { code } } }"""
FRAMEWORKS = """mutation($f: [Framework!]!) { activateFrameworks(frameworks: $f) {
  organization { frameworks } userErrors { code } } }"""


@pytest.fixture(scope="module")
def policy_sim() -> Iterator[RunningSimulator]:
    with start_simulator(Simulator(generate_site(users=12, groups=4, pages=30, seed=21))) as sim:
        yield sim


@pytest.fixture(params=STORE_KINDS)
async def env(request: pytest.FixtureRequest, policy_sim: RunningSimulator) -> AsyncIterator[Env]:
    # The worker runs syncs on demand (hour-long scheduler tick) and evaluates every
    # organization's checks every 1.2 s: the periodic evaluation that catches expiries.
    async for e in make_env(
        request,
        policy_sim,
        run_worker=True,
        scheduler_tick_seconds=3600,
        check_interval_minutes=0.02,
    ):
        yield e


async def connect_policy(env: Env) -> str:
    integration_id = await connect_api_token(env, "POLICY")
    await settle(env)
    return integration_id


async def settle(env: Env) -> None:
    """Let the first sync, auto-mapping and the re-evaluations they request finish."""
    await env.live.container.sync.scheduler.drain()
    await env.live.container.reevaluator.settle()


async def result(env: Env, check_id: str) -> dict[str, Any]:
    return (await env.gql(CHECK, {"id": check_id}))["check"]["result"]  # type: ignore[no-any-return]


async def test_policy_documents_and_checks_over_graphql(env: Env) -> None:
    site = env.sim.sim.site
    integration_id = await connect_policy(env)
    requirements = (await env.gql(POLICIES))["policies"]
    assert len(requirements) == 13 and all(r["frameworks"] for r in requirements)
    current = {p.page_id: p for p in site.policy_pages()}
    mapped = [r for r in requirements if r["document"]]
    assert mapped, "the generated site names its policies after SPEC §6.1"
    for r in mapped:
        doc = r["document"]
        page = current[doc["pageId"]]
        phrases = [normalise_title(p) for p in BY_TYPE[PolicyType(r["policyType"])].phrases]
        assert any(p in normalise_title(page.title) for p in phrases)
        assert (doc["status"], doc["method"], doc["pageStatus"]) == ("DRAFT", "AUTO", "current")
        assert doc["missingSections"] == page.missing_sections() and doc["version"]
    assert len({r["document"]["pageId"] for r in mapped}) == len(mapped)

    setup = await result(env, SETUP)
    assert setup["status"] == "FAILING" and len(failing_items(setup)) == 13  # all drafts
    assert setup["snapshotId"] and setup["evidenceId"] and setup["dataAsOf"]
    viewer = await env.live.container.services.api_keys.create_api_key_for(
        env.org_id, Role.VIEWER, "v"
    )
    denied = await env.gql(APPROVE, {"t": mapped[0]["policyType"]}, key=viewer.secret)
    assert denied["approvePolicyDocument"]["userErrors"][0]["code"] == "FORBIDDEN"

    topic = topic_for(env.org_id, CHECKS_CHANNEL)
    async with gql_ws(env.live.ws_url, env.key) as session:
        stream = session.subscribe(GraphQLRequest(RESULTS, variable_values={"id": SETUP}))
        first = asyncio.ensure_future(anext(stream))
        await _listening(env, topic)
        for r in mapped:
            approved = await env.gql(APPROVE, {"t": r["policyType"]})
            assert (
                approved["approvePolicyDocument"]["requirement"]["document"]["status"] == "ACTIVE"
            )
        unmapped = {r["policyType"] for r in requirements if not r["document"]}
        pushed = (await asyncio.wait_for(first, 10))["checkResultUpdated"]
        while {i["resourceId"] for i in failing_items(pushed)} != unmapped:
            pushed = (await asyncio.wait_for(anext(stream), 10))["checkResultUpdated"]
        assert pushed["status"] == ("FAILING" if unmapped else "PASSING")

        # ISO 27001 adds three types; the auto-mapped drafts for them are not approved.
        frameworks = await env.gql(FRAMEWORKS, {"f": ["ISO27001"]})
        assert frameworks["activateFrameworks"]["organization"]["frameworks"] == ["ISO27001"]
        pushed = (await asyncio.wait_for(anext(stream), 10))["checkResultUpdated"]
        iso_only = {"HUMAN_RESOURCES_SECURITY", "PHYSICAL_SECURITY", "OPERATIONS_SECURITY"}
        assert iso_only <= {i["resourceId"] for i in failing_items(pushed)}
        assert "CODE_OF_CONDUCT" not in {i["resourceId"] for i in failing_items(pushed)}
        await stream.aclose()

    policy_current = await result(env, CURRENT)
    expected = {
        r["document"]["pageId"]
        for r in mapped
        if current[r["document"]["pageId"]].missing_sections()
        or current[r["document"]["pageId"]].is_stale(datetime.now(UTC))
    }
    assert {i["resourceId"] for i in failing_items(policy_current)} == expected

    target = mapped[0]
    remap = await env.gql(MAP, {"t": target["policyType"], "p": "no-such-page"})
    assert remap["mapPolicyDocument"]["userErrors"][0]["code"] == "NOT_FOUND"
    taken = await env.gql(MAP, {"t": mapped[1]["policyType"], "p": target["document"]["pageId"]})
    assert taken["mapPolicyDocument"]["userErrors"][0]["code"] == "PAGE_ALREADY_MAPPED"
    gone = await env.gql(UNMAP, {"t": target["policyType"]})
    assert gone["unmapPolicyDocument"]["requirement"]["document"] is None
    again = await env.gql(MAP, {"t": target["policyType"], "p": target["document"]["pageId"]})
    assert again["mapPolicyDocument"]["requirement"]["document"]["method"] == "MANUAL"

    # An approved page archived upstream fails the setup check after the next sync.
    archived = mapped[1]["document"]["pageId"]
    site.archive_page(archived)
    try:
        run = await env.gql(TRIGGER, {"id": integration_id})
        assert run["triggerSync"]["userErrors"] == []
        await settle(env)
    finally:
        site.set_page_status(archived, "current")
    reasons = {i["resourceId"]: i["reason"] for i in failing_items(await result(env, SETUP))}
    assert "no longer in Confluence" in reasons[mapped[1]["policyType"]]


PAGE = """query($id: ID!, $first: Int, $after: String) { check(id: $id) { result { id
  failingItems(first: $first, after: $after) { totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { resourceId reason } } } } } }"""
PUSHED_PAGE = """subscription($id: ID) { checkResultUpdated(checkId: $id) { id
  all: failingItems(first: 500) { totalCount edges { node { resourceId } } }
  tail: failingItems(first: 2, after: "MTA") { totalCount pageInfo { hasNextPage }
    edges { cursor node { resourceId } } } } }"""


async def _raw(env: Env, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(
            env.live.graphql_url,
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {env.key}"},
        )
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def test_failing_items_are_paged_with_a_total_count(env: Env) -> None:
    await connect_policy(env)
    whole = failing_items(await result(env, SETUP))
    assert len(whole) == 13  # every policy is a draft

    seen: list[dict[str, Any]] = []
    after: str | None = None
    result_ids = set()
    while True:
        data = await env.gql(PAGE, {"id": SETUP, "first": 5, "after": after})
        page = data["check"]["result"]["failingItems"]
        result_ids.add(data["check"]["result"]["id"])
        assert page["totalCount"] == 13 and len(page["edges"]) <= 5
        info = page["pageInfo"]
        assert info["hasPreviousPage"] is (after is not None)
        assert info["startCursor"] == page["edges"][0]["cursor"]
        assert info["endCursor"] == page["edges"][-1]["cursor"]
        seen += [e["node"] for e in page["edges"]]
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
    assert len(result_ids) == 1  # nothing changed meanwhile
    assert seen == whole and len(seen) == 13  # three pages, in order, none twice

    last = await env.gql(PAGE, {"id": SETUP, "first": 5, "after": after})
    after = last["check"]["result"]["failingItems"]["pageInfo"]["endCursor"]  # of the 13th
    past = await env.gql(PAGE, {"id": SETUP, "first": 5, "after": after})
    empty = past["check"]["result"]["failingItems"]
    assert empty["edges"] == [] and empty["totalCount"] == 13
    assert empty["pageInfo"]["hasNextPage"] is False and empty["pageInfo"]["endCursor"] is None

    for variables, field in [
        ({"first": -1}, ["first"]),
        ({"first": 0}, ["first"]),
        ({"first": 501}, ["first"]),
        ({"after": "%%%"}, ["after"]),
        ({"after": "bm90LWEtbnVtYmVy"}, ["after"]),  # base64 of "not-a-number"
        ({"after": "LTE"}, ["after"]),  # base64 of "-1"
    ]:
        body = await _raw(env, PAGE, {"id": SETUP, **variables})
        [error] = body["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", (variables, error)
        assert error["extensions"]["field"] == field, (variables, error)
        assert error["path"] == ["check", "result", "failingItems"]

    # A pushed result pages the same way (its items travel with the event).
    policies = (await env.gql(POLICIES))["policies"]
    mapped = next(r["policyType"] for r in policies if r["document"])
    async with gql_ws(env.live.ws_url, env.key) as session:
        stream = session.subscribe(GraphQLRequest(PUSHED_PAGE, variable_values={"id": SETUP}))
        first = asyncio.ensure_future(anext(stream))
        await _listening(env, topic_for(env.org_id, CHECKS_CHANNEL))
        approved = await env.gql(APPROVE, {"t": mapped})
        assert approved["approvePolicyDocument"]["userErrors"] == []
        pushed = (await asyncio.wait_for(first, 10))["checkResultUpdated"]
        await stream.aclose()
    ids = [e["node"]["resourceId"] for e in pushed["all"]["edges"]]
    assert pushed["all"]["totalCount"] == 12 == len(ids) and mapped not in ids
    tail = pushed["tail"]  # after the cursor of position 10: the 12th item only
    assert tail["totalCount"] == 12 and tail["pageInfo"]["hasNextPage"] is False
    assert [e["node"]["resourceId"] for e in tail["edges"]] == ids[11:]


async def test_an_exception_excepts_an_item_live_and_its_expiry_brings_it_back(env: Env) -> None:
    await connect_policy(env)
    failing = [i["resourceId"] for i in failing_items(await result(env, SETUP))]
    item = failing[0]
    bad = await env.gql(EXCEPT, {"input": _exception(item, reason=" ", seconds=60)})
    assert bad["createCheckException"]["userErrors"][0]["field"] == ["input", "reason"]
    late = await env.gql(EXCEPT, {"input": _exception(item, seconds=366 * 86400)})
    assert late["createCheckException"]["userErrors"][0]["code"] == "VALIDATION_FAILED"
    typo = await env.gql(EXCEPT, {"input": _exception("NO_SUCH_ITEM", seconds=60)})
    assert typo["createCheckException"]["exception"] is None
    assert typo["createCheckException"]["userErrors"][0]["code"] == "NOT_FAILING"
    assert typo["createCheckException"]["userErrors"][0]["field"] == ["input", "resourceId"]

    async with gql_ws(env.live.ws_url, env.key) as session:
        stream = session.subscribe(GraphQLRequest(RESULTS, variable_values={"id": SETUP}))
        first = asyncio.ensure_future(anext(stream))
        await _listening(env, topic_for(env.org_id, CHECKS_CHANNEL))
        created = await env.gql(EXCEPT, {"input": _exception(item, seconds=3)})
        exception = created["createCheckException"]["exception"]
        assert exception["status"] == "ACTIVE", created
        excepted = (await asyncio.wait_for(first, 10))["checkResultUpdated"]
        assert [i["resourceId"] for i in excepted["exceptedItems"]] == [item]
        covering = excepted["exceptedItems"][0]["exception"]  # which exception, until when
        assert (covering["id"], covering["expiresAt"]) == (exception["id"], exception["expiresAt"])
        assert covering["createdByActor"] == {"role": "ADMIN"}
        assert all(i["exception"] is None for i in failing_items(excepted))
        assert item not in {i["resourceId"] for i in failing_items(excepted)}
        # No other change: the periodic evaluation notices the expiry.
        back = (await asyncio.wait_for(anext(stream), 15))["checkResultUpdated"]
        assert back["exceptedItems"] == [] and item in {
            i["resourceId"] for i in failing_items(back)
        }
        assert back["evidenceId"] != excepted["evidenceId"]

        second = await env.gql(EXCEPT, {"input": _exception(item, seconds=3600)})
        second_id = second["createCheckException"]["exception"]["id"]
        assert (await asyncio.wait_for(anext(stream), 10))["checkResultUpdated"]["exceptedItems"]
        revoked = await env.gql(REVOKE, {"id": second_id})
        assert revoked["revokeCheckException"]["exception"]["status"] == "REVOKED"
        after = (await asyncio.wait_for(anext(stream), 10))["checkResultUpdated"]
        assert after["exceptedItems"] == []
        await stream.aclose()

    record = (await env.gql(EVIDENCE, {"id": SETUP, "first": 10}))["evidence"]
    results = [json.loads(e["node"]["canonicalJson"])["result"] for e in record["edges"]]
    # Who created and revoked the exceptions is recorded beside the outcomes they changed.
    actions = [r for r in results if r.get("kind", "").startswith("exception-")]
    assert [a["kind"] for a in actions] == [
        "exception-revoked",
        "exception-created",
        "exception-created",
    ]
    counted = [r for r in results if "kind" not in r and r["exceptions"]["count"]]  # by reference
    assert counted
    # The lists themselves: from the JSON export, which ships the chunks they are in.
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.get(
            f"{env.live.url}/evidence/export",
            params={"checkId": SETUP},
            headers={"Authorization": f"Bearer {env.key}"},
        )
    export = response.json()
    blobs = export["blobs"]

    def listed(ref: dict[str, Any]) -> list[Any]:
        chunks = json.loads(blobs[ref["root"]])["chunks"]
        return [v for c in chunks for v in json.loads(blobs[c["sha256"]])]

    exceptions = [
        listed(r["record"]["result"]["exceptions"])
        for r in export["records"]
        if "kind" not in r["record"]["result"]
    ]
    assert any(e and e[0]["resourceId"] == item for e in exceptions)


async def test_evidence_queries_verification_and_export(
    env: Env, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await connect_policy(env)
    for check_id in (SETUP, CURRENT):
        data = (await env.gql(EVIDENCE, {"id": check_id, "first": 1}))["evidence"]
        node = data["edges"][0]["node"]
        assert node["checkId"] == check_id and node["record"]["population"]["items"]
        assert node["record"]["snapshot"]["id"] == node["snapshotId"]
    status = (await env.gql(VERIFY))["verifyEvidenceChain"]
    assert status["valid"] and status["checkedCount"] == status["headSequence"] >= 2

    url = f"{env.live.url}/evidence/export"
    auth = {"Authorization": f"Bearer {env.key}"}
    total = (await env.gql(EVIDENCE, {"id": SETUP}))["evidence"]["totalCount"]
    response = await http.get(url, params={"checkId": SETUP, "format": "csv"}, headers=auth)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == total and rows[0]["checkId"] == SETUP
    response = await http.get(url, params={"checkId": SETUP}, headers=auth)
    assert response.json()["records"][0]["record"]["checkId"] == SETUP
    for params, headers, status, code in (
        ({"checkId": SETUP}, {}, 401, "UNAUTHENTICATED"),
        ({"checkId": SETUP}, {"Authorization": "Bearer vgl_wrong"}, 401, "UNAUTHENTICATED"),
        ({"checkId": SETUP, "format": "xml"}, auth, 400, "VALIDATION_FAILED"),
        ({"checkId": "no-such-check"}, auth, 404, "NOT_FOUND"),
        ({}, auth, 400, "VALIDATION_FAILED"),
    ):
        refused = await http.get(url, params=params, headers=headers)
        assert refused.status_code == status, (params, refused.text)
        [error] = refused.json()["errors"]
        assert error["message"] and error["extensions"]["code"] == code
        assert refused.headers["x-request-id"]

    # Another organization sees none of it. (The periodic evaluation may already have given
    # the new organization records of its own: none of them may be this one's.)
    ours = {e["node"]["id"] for e in (await env.gql(EVIDENCE, {"id": SETUP}))["evidence"]["edges"]}
    assert len(ours) == total
    _, other = await env.live.container.services.organizations.create_organization("Other")
    other_status = (await env.gql(VERIFY, key=other.secret))["verifyEvidenceChain"]
    assert other_status["valid"]
    theirs = (await env.gql(EVIDENCE, {"id": SETUP}, key=other.secret))["evidence"]["edges"]
    assert not ours & {e["node"]["id"] for e in theirs}
    exported = await http.get(
        url,
        params={"checkId": SETUP, "format": "csv"},
        headers={"Authorization": f"Bearer {other.secret}"},
    )
    assert exported.status_code == 200
    assert not ours & {row["id"] for row in csv.DictReader(io.StringIO(exported.text))}

    # The HMAC key is never in a response or a log line (records carry only its key id).
    setting = env.live.container.settings.evidence_hmac_key
    assert setting is not None
    key_text = setting.get_secret_value()
    raw_key = base64.b64decode(key_text)
    seen = [response.text, caplog.text, json.dumps(await env.gql(EVIDENCE, {"id": SETUP}))]
    for text in seen:
        assert key_text not in text and raw_key.hex() not in text

    # Someone edits the first record in the database: the chain reports it there.
    col = env.live.container.store._db["evidence"]
    first = await col.find_one({"organization_id": env.org_id, "sequence": 1})
    await col.update_one(
        {"_id": first["_id"]}, {"$set": {"body": first["body"].replace('"status":', '"status" :')}}
    )
    broken = (await env.gql(VERIFY))["verifyEvidenceChain"]
    assert not broken["valid"] and broken["checkedCount"] == 0
    assert broken["firstBrokenLink"] == {
        "sequence": 1,
        "recordId": first["_id"],
        "problem": "HASH_MISMATCH",
        "message": "the body was changed",
    }


def _exception(
    resource_id: str, *, seconds: float, reason: str = "rewrite in progress"
) -> dict[str, Any]:
    expires = datetime.now(UTC) + timedelta(seconds=seconds)
    return {
        "checkId": SETUP,
        "resourceId": resource_id,
        "reason": reason,
        "expiresAt": expires.isoformat(),
    }


async def _listening(env: Env, topic: str) -> None:
    for _ in range(300):
        if env.live.container.bus.subscriber_count(topic):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the subscription never started listening")
