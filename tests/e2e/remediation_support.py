"""Helpers of the remediation end-to-end tests: connect, sync, people, offboarding, the
remediation operations over GraphQL and their live updates."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from gql import GraphQLRequest

from services.events import topic_for
from services.remediation.service import REMEDIATIONS_CHANNEL
from simulator.remediation import REMOVE_MEMBER
from simulator.roles import USER
from testkit.graphql_client import Received, failing_items, listening
from testkit.people import add_confluence_system, import_people, staff_people
from tests.e2e.access_support import RUNS, connect_api_token, set_admin_key
from tests.e2e.connect_support import Env

OFFBOARDED = "confluence-offboarded-access-removed"
VALID = "confluence-access-valid"
WRITE_ROUTE = f"DELETE {REMOVE_MEMBER}"
UPSERT = """mutation($people: [PersonInput!]!) { upsertPeople(input: $people) {
  created updated userErrors { code message } } }"""
OFFBOARD = """mutation($input: OffboardPersonInput!) { offboardPerson(input: $input) {
  person { id status } userErrors { code message } } }"""
ACCOUNTS = """query { accounts(filter: {classification: STAFF, status: ACTIVE}, first: 500) {
  edges { node { accountId isAdmin groups identity { method person { id email } } } } } }"""
ACTION = """id kind accountId groupId groupName role resourceId request manualStep reason caveat
  executable blockedReason state attempt occurrence error cancelReason cancelledBy evidenceId
  source { type checkId resourceId reviewId entryId decision actionId }
  calls { method endpoint status message target }
  verification { confirmed detail observed { field value scope } }
  readBacks { confirmed detail }"""
PLAN = f"""query($filter: RemediationPlanFilter) {{ remediationPlan(filter: $filter) {{
  {ACTION} }} }}"""
EXECUTE = f"""mutation($input: ExecuteRemediationInput!) {{ executeRemediation(input: $input) {{
  actions {{ {ACTION} }} userErrors {{ field code message }} }} }}"""
CANCEL = f"""mutation($input: CancelRemediationInput!) {{ cancelRemediation(input: $input) {{
  actions {{ {ACTION} }} userErrors {{ field code message }} }} }}"""
RESTORE = f"""mutation($input: RestoreAccessInput!) {{ restoreAccess(input: $input) {{
  action {{ {ACTION} }} userErrors {{ field code message }} }} }}"""
LIST = f"""query {{ remediations(first: 100) {{ totalCount edges {{ node {{ {ACTION} }} }} }} }}"""
UPDATED = f"""subscription {{ remediationUpdated {{ {ACTION} }} }}"""
ENABLE = """mutation($confirm: Boolean!) { enableConfluenceRemediation(input: {confirm: $confirm}) {
  integration { id status grantedScopes } authorizationUrl message userErrors { code message } } }"""
CREATE_KEY = """mutation($role: Role!) { createApiKey(input: {role: $role, name: "k"}) {
  secret userErrors { code } } }"""
VERIFY = "query { verifyEvidenceChain { valid checkedCount } }"
EVIDENCE = """query($id: ID!) { evidence(checkId: $id, first: 100) {
  edges { node { id status record } } } }"""
CHECK = """query($id: ID!) { check(id: $id) { result { status
  failingItems(first: 500) { totalCount edges { node { resourceId } } } } } }"""
FINAL = ("VERIFIED", "FAILED", "CANCELLED")


async def connect(
    env: Env, *, admin_key: bool = True, email: str | None = None, token: str | None = None
) -> str:
    """Connect ACCESS_REVIEW with an API token (the simulator's site admin by default) and,
    unless told otherwise, the organization's Admin API key."""
    integration_id = await connect_api_token(env, email=email, token=token)
    if admin_key:
        await set_admin_key(env, integration_id)
    return integration_id


async def synced(env: Env, integration_id: str, *, after: int = 0, timeout: float = 90) -> None:
    """Wait until the integration has more than ``after`` runs and its latest SUCCEEDED."""
    query = """query($id: ID!) { syncRuns(integrationId: $id, first: 1) { totalCount
      edges { node { id status error } } } }"""
    async with asyncio.timeout(timeout):
        while True:
            runs = (await env.gql(query, {"id": integration_id}))["syncRuns"]
            edges = runs["edges"]
            status = edges[0]["node"]["status"] if edges else None
            assert status != "FAILED", edges
            if status == "SUCCEEDED" and runs["totalCount"] > after:
                return
            await asyncio.sleep(0.05)


async def run_count(env: Env, integration_id: str) -> int:
    query = """query($id: ID!) { syncRuns(integrationId: $id, first: 1) { totalCount } }"""
    return int((await env.gql(query, {"id": integration_id}))["syncRuns"]["totalCount"])


async def prepare(
    env: Env,
    integration_id: str | None = None,
    *,
    admin_key: bool = True,
    email: str | None = None,
    token: str | None = None,
) -> str:
    """Connected, synced, Confluence critical, every staff account's person imported."""
    integration_id = integration_id or await connect(
        env, admin_key=admin_key, email=email, token=token
    )
    await synced(env, integration_id)
    await add_confluence_system(env)
    await import_people(env, staff_people(env.sim.sim.site))
    return integration_id


async def resync(env: Env, integration_id: str) -> None:
    """A sync through the API, waited for (a new run that SUCCEEDED)."""
    before = await run_count(env, integration_id)
    trigger = """mutation($id: ID!) { triggerSync(integrationId: $id) {
      syncRun { id } userErrors { code message } } }"""
    assert (await env.gql(trigger, {"id": integration_id}))["triggerSync"]["userErrors"] == []
    await synced(env, integration_id, after=before)


async def staff_accounts(env: Env) -> list[dict[str, Any]]:
    """STAFF accounts identified by email, other than the simulator's operators."""
    operators = set(env.sim.sim.site.operators.values())
    edges = (await env.gql(ACCOUNTS))["accounts"]["edges"]
    return [
        e["node"]
        for e in edges
        if e["node"]["identity"]["method"] == "AUTO_EMAIL"
        and e["node"]["accountId"] not in operators
    ]


async def account_node(env: Env, account_id: str) -> dict[str, Any]:
    found = [a for a in await staff_accounts(env) if a["accountId"] == account_id]
    if not found:  # an operator: look it up among every account
        edges = (await env.gql(ACCOUNTS))["accounts"]["edges"]
        found = [e["node"] for e in edges if e["node"]["accountId"] == account_id]
    assert found, account_id
    return found[0]


async def key_for(env: Env, role: str) -> str:
    created = (await env.gql(CREATE_KEY, {"role": role}))["createApiKey"]
    assert created["userErrors"] == []
    return str(created["secret"])


async def offboard(env: Env, account: dict[str, Any]) -> None:
    left = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    person_id = account["identity"]["person"]["id"]
    payload = await env.gql(OFFBOARD, {"input": {"personId": person_id, "offboardedAt": left}})
    assert payload["offboardPerson"]["userErrors"] == []


async def reactivate(env: Env, account: dict[str, Any]) -> None:
    """The person is back: the same email, ACTIVE."""
    email = account["identity"]["person"]["email"]
    person = {"email": email, "name": "Back again", "jobRole": "Engineer", "status": "ACTIVE"}
    done = (await env.gql(UPSERT, {"people": [person]}))["upsertPeople"]
    assert done["userErrors"] == [] and done["updated"] == 1, done


async def failing_ids(env: Env, check_id: str) -> set[str]:
    result = (await env.gql(CHECK, {"id": check_id}))["check"]["result"]
    return {i["resourceId"] for i in failing_items(result)} if result else set()


async def until_failing(env: Env, check_id: str, accounts: set[str], timeout: float) -> None:
    """Poll the check until every one of ``accounts`` is a failing item."""
    async with asyncio.timeout(timeout):
        while not accounts <= await failing_ids(env, check_id):
            await asyncio.sleep(0.1)


async def until_not_failing(env: Env, check_id: str, accounts: set[str], timeout: float) -> None:
    """Poll the check until none of ``accounts`` is a failing item (a condition, not a sleep)."""
    async with asyncio.timeout(timeout):
        while await failing_ids(env, check_id) & accounts:
            await asyncio.sleep(0.1)


async def plan_for(env: Env, account_id: str | None = None) -> list[dict[str, Any]]:
    variables = {"filter": {"accountId": account_id}} if account_id else None
    return list((await env.gql(PLAN, variables))["remediationPlan"])


class Updates(Received):
    """``remediationUpdated`` events as they arrive."""

    async def finished(self, ids: set[str], timeout: float = 60) -> dict[str, dict[str, Any]]:
        """The final (VERIFIED, FAILED or CANCELLED) event of each of ``ids``."""
        async with asyncio.timeout(timeout), self._new:
            while True:
                done = {a["id"]: a for a in self.received if a["state"] in FINAL}
                if ids <= done.keys():
                    return {i: done[i] for i in ids}
                await self._new.wait()


@asynccontextmanager
async def watch_remediations(env: Env) -> AsyncIterator[Updates]:
    updates = Updates()

    async def add(event: dict[str, Any]) -> None:
        await updates.add(event["remediationUpdated"])

    topic = topic_for(env.org_id, REMEDIATIONS_CHANNEL)
    async with listening(env.live, env.key, GraphQLRequest(UPDATED), topic, add):
        yield updates


async def execute(env: Env, ids: list[str]) -> dict[str, dict[str, Any]]:
    """``executeRemediation`` (confirmed) and the final state of each action."""
    async with watch_remediations(env) as updates:
        executed = await env.gql(EXECUTE, {"input": {"actionIds": ids, "confirm": True}})
        assert executed["executeRemediation"]["userErrors"] == [], executed
        return await updates.finished(set(ids))


def make_admin_member(env: Env, group: str = "confluence-administrators") -> str:
    """Put one ordinary staff account into an admin group (before the first sync)."""
    site = env.sim.sim.site
    operators = set(site.operators.values())
    admins = site.group_by_name(group) or site.add_group(group, f"grp-{group}")
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


__all__ = ["RUNS"]


def direct_only(env: Env, *, exclude: frozenset[str] = frozenset()) -> str:
    """An active staff account out of every group, holding Confluence access directly."""
    site = env.sim.sim.site
    operators = set(site.operators.values()) | exclude
    account = next(
        a
        for a in sorted(site.accounts.values(), key=lambda a: a.account_id)
        if a.account_type == "atlassian"
        and a.account_status == "active"
        and a.email
        and a.account_id not in operators
        and site.groups_of(a.account_id)
    )
    for group in site.groups_of(account.account_id):
        site.remove_member(group.group_id, account.account_id)
    site.grant_role(account.account_id, USER)
    assert site.groups_of(account.account_id) == []
    assert site.has_confluence_access(account.account_id)
    return account.account_id
