"""A decision made by a signed-in reviewer names them: in GraphQL (`decidedByActor`), in
the evidence record (format 3's `actor`) and in `vigil evidence verify`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace

import httpx
import pytest
from typer.testing import CliRunner, Result

from api.cli import app
from services.crypto import generate_key
from simulator import RunningSimulator
from tests.e2e.access_support import connect_access_review, sync
from tests.e2e.connect_support import Env, make_env, sim  # noqa: F401 (module fixture)
from tests.e2e.signin_support import as_person, invite, sign_in, signin_settings

KEY = generate_key()
ADD_SYSTEM = """mutation { addCriticalSystem(input: {system: CONFLUENCE}) {
  criticalSystem { id } userErrors { code message } } }"""
START = """mutation($input: StartAccessReviewInput!) { startAccessReview(input: $input) {
  accessReview { id entries(first: 1) { edges { node { id accountId } } } }
  userErrors { code message } } }"""
DECIDE = """mutation($input: DecideAccessInput!) { decideAccess(input: $input) {
  entry { id decision decidedBy decidedByActor { kind id apiKeyId name email role } }
  userErrors { code message } } }"""
EVIDENCE = """query { evidence(checkId: "confluence-access-review-completed", first: 10) {
  edges { node { record } } } }"""


@pytest.fixture
async def env(request: pytest.FixtureRequest, sim: RunningSimulator) -> AsyncIterator[Env]:  # noqa: F811
    wire = SimpleNamespace(
        param="wire", getfixturevalue=request.getfixturevalue
    )  # the CLI reads it
    settings = {"evidence_hmac_key": KEY, "run_worker": True, "scheduler_tick_seconds": 3600}
    async for made in make_env(wire, sim, **settings, **signin_settings(sim)):  # type: ignore[arg-type]
        yield made


@pytest.mark.wire
async def test_a_signed_in_reviewer_s_decision_names_them_everywhere(
    env: Env, wire_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    integration = await connect_access_review(env)
    await sync(env, integration)
    system = (await env.gql(ADD_SYSTEM))["addCriticalSystem"]
    assert system["userErrors"] == []
    started = await env.gql(START, {"input": {"criticalSystemId": system["criticalSystem"]["id"]}})
    entry = started["startAccessReview"]["accessReview"]["entries"]["edges"][0]["node"]

    await invite(env, "grace@acme.example", "REVIEWER")
    async with httpx.AsyncClient(timeout=10) as http:
        cookie = (await sign_in(http, env, "oidc", who="oidc-grace")).cookie
        assert cookie
        variables = {"input": {"entryId": entry["id"], "decision": "KEEP"}}
        answer = (await as_person(http, env, cookie, DECIDE, variables)).json()
    decided = answer["data"]["decideAccess"]
    assert decided["userErrors"] == [], decided
    who = decided["entry"]["decidedByActor"]
    assert (who["kind"], who["name"], who["email"], who["role"], who["apiKeyId"]) == (
        "PERSON",
        "Grace Hopper",
        "grace@acme.example",
        "REVIEWER",
        None,
    )
    assert decided["entry"]["decidedBy"] == who["id"]

    records = [e["node"]["record"] for e in (await env.gql(EVIDENCE))["evidence"]["edges"]]
    decision = next(r for r in records if r["result"].get("kind") == "access-decision")
    assert decision["version"] == 3
    assert decision["result"]["accountId"] == entry["accountId"]
    assert decision["result"]["decision"] == "KEEP"
    assert decision["actor"] == {
        "kind": "PERSON",
        "id": who["id"],
        "name": "Grace Hopper",
        "email": "grace@acme.example",
        "atlassianAccountId": None,
    }
    started_record = next(r for r in records if r["result"].get("kind") == "access-review-started")
    assert started_record["actor"]["kind"] == "API_KEY"

    monkeypatch.setenv("VIGIL_MONGODB_URL", wire_url)
    monkeypatch.setenv("VIGIL_MONGODB_DB", env.live.container.store.db_name)
    monkeypatch.setenv("VIGIL_EVIDENCE_HMAC_KEY", KEY)
    # The CLI opens the evidence signing keys, kept under the server's secret key (ADR 021).
    secret = env.live.container.settings.secret_key
    assert secret is not None
    monkeypatch.setenv("VIGIL_SECRET_KEY", secret.get_secret_value())
    verified = await _in_thread(CliRunner(), ["evidence", "verify", "--org", env.org_id])
    assert verified.exit_code == 0, verified.output
    assert "valid:" in verified.stdout
    assert "acted: Grace Hopper <grace@acme.example> (person): 1 record" in verified.stdout


async def _in_thread(runner: CliRunner, args: list[str]) -> Result:
    return await asyncio.to_thread(runner.invoke, app, args)
