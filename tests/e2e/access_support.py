"""Helpers for the access-check end-to-end tests: connect, sync, subscribe to check results."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from gql import GraphQLRequest

from services.checks.events import CHECKS_CHANNEL
from services.events import topic_for
from testkit.connect import Env
from testkit.graphql_client import Received, listening

CONNECT = """mutation($input: ConnectApiTokenInput!) {
  connectConfluenceApiToken(input: $input) { integration { id status } userErrors { code } } }"""
ADMIN_KEY = """mutation($input: SetAtlassianAdminKeyInput!) {
  setAtlassianAdminKey(input: $input) { integration { id hasAdminKey } userErrors { code } } }"""
TRIGGER = """mutation($id: ID!) { triggerSync(integrationId: $id) {
  syncRun { id status } userErrors { code message } } }"""
RUNS = """query($id: ID!) { syncRuns(integrationId: $id, first: 1) {
  edges { node { id status error } } } }"""
RESULT_FIELDS = """checkId status reason note evaluatedAt changedAt dataAsOf snapshotId evidenceId
  failingItems(first: 500) { totalCount edges { node { resourceType resourceId name reason } } } exceptedItems { resourceId }"""
UPDATED = f"""subscription($id: ID) {{ checkResultUpdated(checkId: $id) {{ {RESULT_FIELDS} }} }}"""


async def connect_api_token(
    env: Env,
    purpose: str = "ACCESS_REVIEW",
    *,
    email: str | None = None,
    token: str | None = None,
) -> str:
    """Connect ``purpose`` with an API token (the simulator's site admin's by default), which
    queues its first sync; the integration's id."""
    creds = env.sim.sim.credentials
    connect = {
        "purpose": purpose,
        "domain": env.sim.site_url(),
        "email": email or creds.admin_token.email,
        "apiToken": token or creds.admin_token.token,
        "confirmCredentials": True,
    }
    payload = (await env.gql(CONNECT, {"input": connect}))["connectConfluenceApiToken"]
    assert payload["userErrors"] == [], payload
    return str(payload["integration"]["id"])


async def set_admin_key(env: Env, integration_id: str) -> None:
    """Give the integration the simulator organization's Admin API key."""
    creds = env.sim.sim.credentials
    key = {"integrationId": integration_id, "orgId": creds.org_id, "apiKey": creds.admin_api_key}
    data = await env.gql(ADMIN_KEY, {"input": key})
    assert data["setAtlassianAdminKey"]["userErrors"] == []


async def connect_access_review(env: Env) -> str:
    """Connect ACCESS_REVIEW with the simulator's admin token and Admin API key."""
    integration_id = await connect_api_token(env)
    await set_admin_key(env, integration_id)
    return integration_id


async def sync(env: Env, integration_id: str, timeout: float = 60) -> None:
    """Run a sync through the API (the in-process worker) and wait until it succeeded."""
    seen: list[tuple[str, str]] = []
    try:
        async with asyncio.timeout(timeout):
            await _sync(env, integration_id, seen)
    except TimeoutError:
        raise AssertionError(f"the sync did not finish in {timeout} s; runs seen: {seen}") from None


async def _sync(env: Env, integration_id: str, seen: list[tuple[str, str]]) -> None:
    trigger = (await env.gql(TRIGGER, {"id": integration_id}))["triggerSync"]
    assert trigger["userErrors"] == [], trigger
    run_id = trigger["syncRun"]["id"]
    # A run already going (the first sync, requested on connect) is returned with one
    # follow-up run queued after it: wait for that one.
    follow_up = trigger["syncRun"]["status"] == "RUNNING"
    while True:
        runs = await env.gql(RUNS, {"id": integration_id})
        run = runs["syncRuns"]["edges"][0]["node"]
        if not seen or seen[-1] != (run["id"], run["status"]):
            seen.append((run["id"], run["status"]))
        done = run["status"] in ("SUCCEEDED", "FAILED")
        if done and (run["id"] != run_id if follow_up else run["id"] == run_id):
            break
        await asyncio.sleep(0.05)
    assert run["status"] == "SUCCEEDED", run


class ResultStream(Received):
    """The ``checkResultUpdated`` events of one subscription, as they arrive."""

    def __init__(self) -> None:
        super().__init__()
        self._seen = 0  # results before this index were already looked at by ``until``

    async def until(
        self, status: str, timeout: float = 5.0, check_id: str | None = None
    ) -> dict[str, Any]:
        """The next result with ``status`` (of ``check_id``) after the last one returned."""
        async with asyncio.timeout(timeout), self._new:
            while True:
                for index in range(self._seen, len(self.received)):
                    result = self.received[index]
                    if result["status"] == status and check_id in (None, result["checkId"]):
                        self._seen = index + 1
                        return self.received[index]
                await self._new.wait()


@asynccontextmanager
async def watch_check(env: Env, check_id: str | None) -> AsyncIterator[ResultStream]:
    """Subscribe to ``checkResultUpdated`` over WebSocket until the block ends."""
    stream = ResultStream()

    async def add(event: dict[str, Any]) -> None:
        await stream.add(event["checkResultUpdated"])

    request = GraphQLRequest(UPDATED, variable_values={"id": check_id})
    topic = topic_for(env.org_id, CHECKS_CHANNEL)
    async with listening(env.live, env.key, request, topic, add):
        yield stream
