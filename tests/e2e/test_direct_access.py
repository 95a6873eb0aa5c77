"""Issue 21 end to end (uvicorn, GraphQL, the simulator as a real server, the wire store):
Confluence access granted directly — a role on the site, no group — is access. An offboarded
person holding only such a grant makes ``confluence-offboarded-access-removed`` FAIL (it
used to PASS: the account was not in the snapshot, which listed group members only)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest

from services.people.models import person_id
from simulator import RunningSimulator, Simulator, generate_site, start_simulator
from testkit.graphql_client import failing_items
from tests.e2e.access_support import connect_access_review, connect_api_token, watch_check
from tests.e2e.connect_support import Env, worker_env
from tests.e2e.remediation_support import direct_only
from tests.e2e.test_remediation_api import OFFBOARDED, first_sync, offboard, prepare

CHECK = """query($id: ID!) { check(id: $id) { result { status note } } }"""
ADMINS = """query { accounts(filter: {admin: true}, first: 50) { edges { node {
  accountId adminVia { kind source group role } } } } }"""
ACCOUNT = """query($id: String!) { accounts(filter: {search: $id}, first: 5) { edges { node {
  accountId hasAccess groups accessVia { kind source group role } directoryStatus } } } }"""


@pytest.fixture
def direct_sim() -> Iterator[RunningSimulator]:
    """A small site; each test sets its own scene on it."""
    sim = Simulator(generate_site(users=30, groups=5, pages=2, seed=21))
    with start_simulator(sim) as running:
        yield running


@pytest.fixture(params=["wire"])
async def env(request: pytest.FixtureRequest, direct_sim: RunningSimulator) -> AsyncIterator[Env]:
    async for e in worker_env(request, direct_sim):
        yield e


async def _scene(env: Env, connect: Callable[[Env], Awaitable[str]]) -> tuple[str, str]:
    """An account with Confluence access granted directly (no group), the site connected with
    ``connect``, synced and prepared: (its account id, its email)."""
    account_id = direct_only(env)
    integration_id = await connect(env)
    await first_sync(env, integration_id)
    await prepare(env, integration_id)
    return account_id, env.sim.sim.site.accounts[account_id].email


async def test_an_offboarded_person_with_direct_access_fails_the_offboarding_check(
    env: Env,
) -> None:
    account_id, email = await _scene(env, connect_access_review)  # with the Admin API key
    nodes = (await env.gql(ACCOUNT, {"id": email}))["accounts"]["edges"]
    [node] = [e["node"] for e in nodes if e["node"]["accountId"] == account_id]
    assert node["groups"] == [] and node["hasAccess"] is True
    assert node["accessVia"] == [
        {"kind": "DIRECT", "source": "ATLASSIAN", "group": None, "role": None}
    ]
    assert node["directoryStatus"] == "ACTIVE"

    target = {"identity": {"person": {"id": person_id(env.org_id, email)}}}
    async with watch_check(env, OFFBOARDED) as checks:
        await offboard(env, target)
        failing = await checks.until("FAILING", timeout=30)
    assert failing["note"] is None  # measured with the Admin API key
    [item] = failing_items(failing)
    assert item["resourceId"] == account_id
    assert item["reason"].endswith("still has Confluence access (directly)")


async def test_without_a_key_access_is_measured_through_groups_and_the_checks_say_so(
    env: Env,
) -> None:
    account_id, email = await _scene(env, connect_api_token)  # without the Admin API key
    nodes = (await env.gql(ACCOUNT, {"id": email}))["accounts"]["edges"]
    assert [e for e in nodes if e["node"]["accountId"] == account_id] == []  # out of sight

    for check_id in (OFFBOARDED, "confluence-user-identified", "confluence-access-valid"):
        async with asyncio.timeout(30):  # evaluated once Confluence is a critical system
            while True:
                result = (await env.gql(CHECK, {"id": check_id}))["check"]["result"]
                if result is not None and result["status"] != "NOT_MONITORED":
                    break
                await asyncio.sleep(0.05)
        assert result["note"] == (
            "access measured through group membership only; add an Admin API key to see "
            "direct grants"
        )
    admins = [e["node"] for e in (await env.gql(ADMINS))["accounts"]["edges"]]
    assert admins and all(
        g["source"] == "ADMIN_GROUPS_SETTING" and g["kind"] == "GROUP" and g["role"] is None
        for a in admins
        for g in a["adminVia"]
    )
