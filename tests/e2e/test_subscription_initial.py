"""`initial: true` over WebSocket under uvicorn: a subscription first sends the current state
once it is live, to every subscriber (subscriptions asked so are never shared by the fan-out),
then the changes; without it, only the changes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from gql import GraphQLRequest

from services.events import topic_for
from services.people.models import PersonStatus
from services.people.service import PEOPLE_CHANNEL
from services.people.validation import PersonDraft
from testkit.conditions import until
from testkit.graphql_client import gql_http, gql_ws
from testkit.live import live_server as serving
from tests.access.builders import account
from tests.access.support import connected, seed_snapshot

PEOPLE = "subscription { peopleChanged(initial: true) { totalCount initial } }"
PEOPLE_CHANGES = "subscription { peopleChanged { totalCount initial } }"
INTEGRATIONS = "subscription { integrationStatusChanged(initial: true) { id status } }"
REVIEWS = """subscription($id: ID) { accessReviewChanged(reviewId: $id, initial: true) {
  id status pendingCount } }"""
START = """mutation { addCriticalSystem(input: {system: CONFLUENCE}) { criticalSystem { id }
  userErrors { code } } }"""
REVIEW = """mutation($id: ID!) { startAccessReview(input: {criticalSystemId: $id}) {
  accessReview { id } userErrors { code } } }"""


@asynccontextmanager
async def subscribed(
    url: str, key: str, query: str, variables: dict[str, Any] | None = None
) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
    """The messages of one subscription on its own socket, in a queue."""
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def pump() -> None:
        async with gql_ws(url, key) as session:
            async for message in session.subscribe(
                GraphQLRequest(query, variable_values=variables)
            ):
                await queue.put(message)

    task = asyncio.create_task(pump())
    try:
        yield queue
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def next_of(queue: asyncio.Queue[dict[str, Any]]) -> dict[str, Any]:
    return await asyncio.wait_for(queue.get(), 10)


def ann(email: str) -> PersonDraft:
    return PersonDraft(email, "Ann", PersonStatus.ACTIVE, None, None, None)


async def test_initial_sends_the_current_state_to_every_subscriber_first() -> None:
    async with serving() as live:
        services = live.container.services
        org, created = await services.organizations.create_organization("Acme")
        admin = await services.api_keys.authenticate(created.secret)
        assert admin is not None
        await services.people.upsert(admin, [ann("ann@acme.test")])
        url, key = live.ws_url, created.secret

        async with (
            subscribed(url, key, PEOPLE) as first,
            subscribed(url, key, PEOPLE_CHANGES) as plain,
        ):
            assert await next_of(first) == {"peopleChanged": {"totalCount": 1, "initial": True}}
            # A second subscriber of the same document gets its own first message.
            async with subscribed(url, key, PEOPLE) as second:
                assert (await next_of(second))["peopleChanged"]["initial"] is True
                topic = topic_for(org.id, PEOPLE_CHANNEL)  # `plain` says nothing until live
                await until(
                    lambda: live.container.bus.subscriber_count(topic) == 3,
                    what="three subscribers",
                    timeout=10,
                )
                await services.people.upsert(admin, [ann("bob@acme.test")])
                change = {"peopleChanged": {"totalCount": 2, "initial": False}}
                assert await next_of(first) == change
                assert await next_of(second) == change
                assert await next_of(plain) == change  # without initial: the change only

        store = live.container.store
        integration = await seed_snapshot(
            store, await connected(store, org.id), [account("acc-1")], "snap_1"
        )
        async with subscribed(url, key, INTEGRATIONS) as integrations:
            current = await next_of(integrations)
            assert current["integrationStatusChanged"] == {
                "id": integration.id,
                "status": "CONNECTED",
            }

        system = (await gql_http(live.graphql_url, key, START))["addCriticalSystem"]
        started = await gql_http(
            live.graphql_url, key, REVIEW, {"id": system["criticalSystem"]["id"]}
        )
        review = started["startAccessReview"]["accessReview"]
        for variables in ({"id": review["id"]}, {"id": None}):  # that review, or the newest
            async with subscribed(url, key, REVIEWS, variables) as reviews:
                current = (await next_of(reviews))["accessReviewChanged"]
                assert current == {"id": review["id"], "status": "OPEN", "pendingCount": 1}
