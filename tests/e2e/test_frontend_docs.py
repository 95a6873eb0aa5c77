"""Every ``graphql`` example of docs/frontend.md is valid against the schema and runs against
a live Vigil without a GraphQL error (issue 14): the guide cannot drift from the API."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from gql import GraphQLRequest
from graphql import OperationDefinitionNode, OperationType, parse, validate

from resolvers.schema import build_schema
from services.checks.events import CHECKS_CHANNEL
from services.events import topic_for
from services.people.models import PersonStatus, person_id
from services.people.service import PEOPLE_CHANNEL
from services.people.validation import PersonDraft
from services.policies.service import POLICIES_CHANNEL
from services.reviews.service import REVIEWS_CHANNEL
from services.sync.models import SyncTrigger
from testkit.conditions import until
from testkit.graphql_client import gql_ws
from testkit.live import LiveServer, open_store, start_live_server
from tests.access.builders import account
from tests.access.support import connected, finished_run, seed_snapshot

DOC = Path(__file__).resolve().parents[2] / "docs" / "frontend.md"
BLOCK = re.compile(r"```graphql\n(.*?)```", re.DOTALL)

State = dict[str, Any]
IN_30_DAYS = (datetime.now(UTC) + timedelta(days=30)).isoformat()
TWO_DAYS_AGO = (datetime.now(UTC) - timedelta(days=2)).isoformat()

#: Variables of each example, from what the seeding and earlier examples produced.
VARIABLES: dict[str, Callable[[State], dict[str, Any]]] = {
    "StartOAuth": lambda s: {"purpose": "POLICY"},
    "Integration": lambda s: {"id": s["integrationId"]},
    "SelectSite": lambda s: {"integrationId": s["integrationId"], "cloudId": "not-a-site"},
    "ConnectApiToken": lambda s: {
        "input": {
            "purpose": "POLICY",
            "domain": "acme.atlassian.net",
            "email": "admin@acme.test",
            "apiToken": "token",
            "confirmCredentials": False,  # refused before any call to Atlassian
        }
    },
    "ConnectServiceAccount": lambda s: {
        "input": {"purpose": "POLICY", "clientId": "", "clientSecret": "x", "siteUrl": "acme"}
    },
    "SetAdminKey": lambda s: {
        "input": {"integrationId": "int_not_there", "orgId": "org", "apiKey": "key"}
    },
    "IntegrationSettings": lambda s: {"integrationId": s["integrationId"]},
    "Disconnect": lambda s: {"id": "int_not_there"},
    "SyncProgress": lambda s: {"integrationId": s["integrationId"]},
    "TriggerSync": lambda s: {"integrationId": s["integrationId"]},
    "SyncRuns": lambda s: {"integrationId": s["integrationId"]},
    "SyncRun": lambda s: {"id": s["runId"]},
    "Accounts": lambda s: {"filter": {"classification": "UNIDENTIFIED", "status": "ACTIVE"}},
    "Account": lambda s: {"accountId": "acc-1"},
    "LinkAccount": lambda s: {"accountId": "acc-2", "personId": s["personId"]},
    "MarkNotStaff": lambda s: {"accountId": "acc-3"},
    "ClearIdentity": lambda s: {"accountId": "acc-3"},
    "People": lambda s: {"search": "acme"},
    "UpsertPeople": lambda s: {"people": [{"email": "new@acme.test", "name": "New Person"}]},
    "Offboard": lambda s: {"personId": s["personId"], "left": TWO_DAYS_AGO},
    "StartReview": lambda s: {"criticalSystemId": s["criticalSystemId"]},
    "ReviewEntries": lambda s: {"id": s["reviewId"]},
    "ReviewUpdates": lambda s: {"reviewId": s["reviewId"]},
    "Decide": lambda s: {"entryId": s["entryId"]},
    "CompleteReview": lambda s: {"reviewId": s["reviewId"]},
    "Check": lambda s: {"id": s["checkId"]},
    "CheckFailingItems": lambda s: {"id": s["checkId"], "after": s.get("failingAfter")},
    "Except": lambda s: {
        "input": {
            "checkId": s["checkId"],
            "resourceId": s.get("failingResourceId", "nothing-fails"),
            "reason": "accepted until the migration",
            "expiresAt": IN_30_DAYS,
        }
    },
    "RevokeException": lambda s: {"id": s.get("exceptionId", "exc_not_there")},
    "PolicyPages": lambda s: {"search": "policy"},
    "MapPolicy": lambda s: {"pageId": "page-not-synced"},
    "Evidence": lambda s: {"checkId": s["checkId"]},
    "CreateKey": lambda s: {"name": "Console reviewer"},
    "EvidenceLink": lambda s: {"checkId": s["checkId"]},
    "RemediationPlan": lambda s: {"after": None},
    "ExecuteRemediation": lambda s: {"input": {"actionIds": ["rem_not_planned"], "confirm": True}},
}

#: Subscriptions that need a change to send something: the bus channel they listen on.
CHANNELS = {
    "IntegrationChanges": "integrations",
    "CheckUpdates": CHECKS_CHANNEL,
    "ReviewUpdates": REVIEWS_CHANNEL,
    "PeopleUpdates": PEOPLE_CHANNEL,
    "PolicyUpdates": POLICIES_CHANNEL,
}

#: Examples that must succeed outright (empty userErrors) on the seeded data.
SUCCEEDS = {
    "IntegrationSettings",
    "TriggerSync",
    "LinkAccount",
    "MarkNotStaff",
    "ClearIdentity",
    "UpsertPeople",
    "Offboard",
    "AddCriticalSystem",
    "StartReview",
    "Decide",
    "CompleteReview",
    "CreateKey",
    "Frameworks",
}


def remember(name: str, data: dict[str, Any], state: State) -> None:
    """Keep the ids later examples need."""
    if name == "AddCriticalSystem":
        state["criticalSystemId"] = data["addCriticalSystem"]["criticalSystem"]["id"]
    elif name == "StartReview":
        state["reviewId"] = data["startAccessReview"]["accessReview"]["id"]
    elif name == "ReviewEntries":
        state["entryId"] = data["accessReview"]["entries"]["edges"][0]["node"]["id"]
    elif name == "Checks":
        checks = data["checks"]
        state["checkId"] = checks[0]["id"]
        for check in checks:
            page = (check["result"] or {}).get("failingItems") or {"edges": []}
            if page["edges"]:
                state["checkId"] = check["id"]
                state["failingResourceId"] = page["edges"][0]["node"]["resourceId"]
                state["failingAfter"] = page["pageInfo"]["endCursor"]
                break
    elif name == "Except" and data["createCheckException"]["exception"]:
        state["exceptionId"] = data["createCheckException"]["exception"]["id"]


def examples() -> list[tuple[str, str, OperationType]]:
    """(operation name, text, kind) of every graphql block, in document order."""
    found = []
    for text in BLOCK.findall(DOC.read_text()):
        [operation] = parse(text).definitions
        assert isinstance(operation, OperationDefinitionNode), text
        assert operation.name is not None, f"name every example operation:\n{text}"
        found.append((operation.name.value, text, operation.operation))
    return found


def test_every_example_is_valid_against_the_schema() -> None:
    schema = build_schema(development=True)._schema
    found = examples()
    assert len(found) >= 40
    names = [name for name, _, _ in found]
    assert len(set(names)) == len(names), "example operation names must be unique"
    for name, text, _ in found:
        errors = validate(schema, parse(text))
        assert not errors, f"{name}: {[e.message for e in errors]}"
    needs_variables = {
        name
        for name, text, _ in found
        if parse(text).definitions[0].variable_definitions  # type: ignore[attr-defined]
    }
    assert needs_variables <= set(VARIABLES), needs_variables - set(VARIABLES)


@pytest.fixture
async def seeded() -> AsyncIterator[tuple[LiveServer, State]]:
    """Vigil with an organization whose ACCESS_REVIEW snapshot, people and a run exist."""
    store = open_store("mock", None)
    live, server, task = await start_live_server(store, oauth_client_id="vigil-client")
    try:
        container = live.container
        org, created = await container.services.organizations.create_organization("Acme")
        integration = await connected(store, org.id)
        accounts = [
            account("acc-1", email="ann@acme.test", admin=True),
            account("acc-2"),
            account("acc-3", type="app"),
            account("acc-4", email="bob@acme.test"),
        ]
        await seed_snapshot(store, integration, accounts, "snap_docs_1")
        run_id = await finished_run(
            store,
            org.id,
            integration.id,
            SyncTrigger.INITIAL,
            requests_made=4,
            items_fetched=4,
            accounts=4,
        )
        principal = await container.services.api_keys.authenticate(created.secret)
        assert principal is not None
        ann = PersonDraft("ann@acme.test", "Ann", PersonStatus.ACTIVE, "Engineer", None, None)
        await container.services.people.upsert(principal, [ann])
        state: State = {
            "key": created.secret,
            "orgId": org.id,
            "integrationId": integration.id,
            "runId": run_id,
            "personId": person_id(org.id, "ann@acme.test"),
        }
        yield live, state
    finally:
        await store.drop()
        server.should_exit = True
        await task


async def run_http(live: LiveServer, key: str, text: str, variables: dict[str, Any]) -> Any:
    async with httpx.AsyncClient(timeout=20) as http:
        response = await http.post(
            live.graphql_url,
            json={"query": text, "variables": variables},
            headers={"Authorization": f"Bearer {key}"},
        )
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


async def run_subscription(
    live: LiveServer, state: State, name: str, text: str, variables: dict[str, Any]
) -> Any:
    """The first message of a subscription example (caused where it needs a cause)."""
    key, org = state["key"], state["orgId"]
    if name == "CheckUpdates":  # a fresh organization: its first evaluation is news
        new_org, created = await live.container.services.organizations.create_organization("Fresh")
        key, org = created.secret, new_org.id
    async with gql_ws(live.ws_url, key) as session:
        stream = session.subscribe(GraphQLRequest(text, variable_values=variables))
        first = asyncio.ensure_future(anext(stream))
        if name in CHANNELS:
            topic = topic_for(org, CHANNELS[name])
            bus = live.container.bus
            await until(lambda: bus.subscriber_count(topic), what=f"{name} to listen")
            if name == "IntegrationChanges":
                await bus.publish(topic, {"integration_id": state["integrationId"]})
            elif name == "ReviewUpdates":
                await bus.publish(topic, {"review_id": state["reviewId"]})
            elif name in ("PeopleUpdates", "PolicyUpdates"):
                await bus.publish(topic, {})
            else:
                await live.container.engine.evaluate(org)
        message = await asyncio.wait_for(first, 20)
        await stream.aclose()
    return message


async def test_every_example_runs_against_a_live_vigil(
    seeded: tuple[LiveServer, State],
) -> None:
    live, state = seeded
    ran = []
    for name, text, kind in examples():
        variables = VARIABLES.get(name, lambda s: {})(state)
        if kind is OperationType.SUBSCRIPTION:
            data = await run_subscription(live, state, name, text, variables)
        else:
            data = await run_http(live, state["key"], text, variables)
        [payload] = data.values() if len(data) == 1 else [None]
        if name in SUCCEEDS:
            assert payload["userErrors"] == [], (name, payload)
        remember(name, data, state)
        ran.append(name)
    assert ran == [name for name, _, _ in examples()]
