"""A result with more items than an event carries (issue 24): the push, the check and its
history page the items from the store and answer as for a small result. Both stores."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from gql import GraphQLRequest

from services.checks.events import CHECKS_CHANNEL, INLINE_ITEMS
from services.events import topic_for
from services.models import Principal, Role
from services.reviews.models import SystemKind
from services.reviews.systems import SystemSettings
from testkit.graphql_client import gql_ws
from testkit.live import LiveServer
from tests.access.support import connected, seed_snapshot
from tests.e2e.test_unrecordable_api import accounts

CHECK = "confluence-user-identified"
N = INLINE_ITEMS + 150
ITEMS = """failingItems(first: 500, after: $after) { totalCount pageInfo { hasNextPage endCursor }
  edges { node { resourceId } } } exceptedItems { resourceId }"""
PUSHED = f"""subscription($id: ID, $after: String) {{ checkResultUpdated(checkId: $id) {{
  id status {ITEMS} }} }}"""
HISTORY = f"""query($id: ID!, $after: String) {{ checkHistory(checkId: $id, first: 1) {{
  edges {{ node {{ id status {ITEMS} }} }} }} check(id: $id) {{ result {{ id {ITEMS} }} }} }}"""


async def test_a_large_result_is_pushed_and_read_a_page_at_a_time(live: LiveServer) -> None:
    container = live.container
    org, created = await container.services.organizations.create_organization("Acme")
    admin = Principal(org.id, Role.ADMIN, created.key.id)
    integration = await connected(live.container.store, org.id)
    await seed_snapshot(live.container.store, integration, accounts(N), "snap_1")
    pushed: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def pump() -> None:
        async with gql_ws(live.ws_url, created.secret) as session:
            request = GraphQLRequest(PUSHED, variable_values={"id": CHECK})
            async for event in session.subscribe(request):
                pushed.put_nowait(event["checkResultUpdated"])

    task = asyncio.create_task(pump())
    topic = topic_for(org.id, CHECKS_CHANNEL)
    try:
        async with asyncio.timeout(10):
            while container.bus.subscriber_count(topic) < 1:
                await asyncio.sleep(0.01)
        await container.services.systems.add(admin, SystemKind.CONFLUENCE, SystemSettings())
        result = await asyncio.wait_for(pushed.get(), 30)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    expected = sorted(a.account_id for a in accounts(N))
    page = result["failingItems"]
    assert result["status"] == "FAILING" and page["totalCount"] == N
    assert [e["node"]["resourceId"] for e in page["edges"]] == expected[:500]
    assert page["pageInfo"]["hasNextPage"] and result["exceptedItems"] == []

    headers = {"Authorization": f"Bearer {created.secret}"}
    async with httpx.AsyncClient(timeout=30, headers=headers) as http:
        variables = {"id": CHECK, "after": page["pageInfo"]["endCursor"]}
        response = await http.post(
            live.graphql_url, json={"query": HISTORY, "variables": variables}
        )
    data = response.json()["data"]
    [entry] = [e["node"] for e in data["checkHistory"]["edges"]]
    latest = data["check"]["result"]
    for shown in (entry, latest):  # the next page of the same result, from the store
        assert shown["id"] == result["id"] and shown["failingItems"]["totalCount"] == N
        rest = [e["node"]["resourceId"] for e in shown["failingItems"]["edges"]]
        assert rest == expected[500:] and not shown["failingItems"]["pageInfo"]["hasNextPage"]
        assert shown["exceptedItems"] == []
