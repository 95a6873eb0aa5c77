"""The GraphQL contract a frontend builds on (issue 14): one error convention, the queries a
console needs, opaque cursors and an honest ``syncProgress``. HTTP and WebSocket, both stores."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from gql import GraphQLRequest
from gql.transport.exceptions import TransportQueryError

from services.events import topic_for
from services.integrations.models import IntegrationStatus, Purpose
from services.models import Role
from services.people.service import PEOPLE_CHANNEL
from services.policies.service import POLICIES_CHANNEL
from services.reviews.service import REVIEWS_CHANNEL
from services.sync.models import SyncTrigger
from testkit.conditions import until
from testkit.graphql_client import gql_ws
from testkit.live import LiveServer
from tests.access.builders import account
from tests.access.support import connected, finished_run, seed_snapshot
from tests.e2e.test_access_graphql import Api, api_for


async def post(live: LiveServer, key: str, query: str, variables: Any = None) -> dict[str, Any]:
    """The raw JSON body of a GraphQL request (errors included)."""
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(
            live.graphql_url,
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {key}"},
        )
    assert response.headers.get("x-request-id")
    body: dict[str, Any] = response.json()
    return body


def error_of(body: dict[str, Any]) -> tuple[str, str]:
    """(code, message) of the single error of a response."""
    [error] = body["errors"]
    return error["extensions"]["code"], error["message"]


async def test_errors_carry_a_code_and_not_found_is_worded_one_way(live: LiveServer) -> None:
    api = await api_for(live)
    admin = api.keys[Role.ADMIN]

    for query, what in [
        ('{ syncRuns(integrationId: "int_nope") { totalCount } }', "integration int_nope"),
        ('{ checkHistory(checkId: "no.such") { totalCount } }', "check no.such"),
        ('{ evidence(checkId: "no.such") { totalCount } }', "check no.such"),
    ]:
        body = await post(live, admin, query)
        assert body["data"] is None
        assert error_of(body) == ("NOT_FOUND", f"{what} not found"), query

    for query in [
        '{ integration(id: "int_nope") { id } }',
        '{ check(id: "no.such") { id } }',
        '{ syncRun(id: "run_nope") { id } }',
        '{ account(accountId: "acc-nope") { accountId } }',
        '{ accessReview(id: "rev_nope") { id } }',
        '{ person(id: "per_nope") { id } }',
        '{ evidenceRecord(id: "evd_nope") { id } }',
    ]:
        body = await post(live, admin, query)
        assert "errors" not in body and next(iter(body["data"].values())) is None, query

    bogus = await post(live, admin, '{ accounts(filter: {status: "bogus"}) { totalCount } }')
    assert error_of(bogus)[0] == "BAD_USER_INPUT"
    bogus_var = await post(
        live,
        admin,
        "query($f: AccountFilter) { accounts(filter: $f) { totalCount } }",
        {"f": {"status": "bogus"}},
    )
    assert error_of(bogus_var)[0] == "BAD_USER_INPUT"
    too_many = await post(live, admin, "{ people(first: 501) { totalCount } }")
    assert error_of(too_many) == ("BAD_USER_INPUT", "first must be between 1 and 500")
    assert too_many["errors"][0]["extensions"]["field"] == ["first"]
    bad_cursor = await post(live, admin, '{ people(after: "%%%") { totalCount } }')
    assert error_of(bad_cursor)[0] == "BAD_USER_INPUT"
    syntax = await post(live, admin, "{ me { ")
    assert error_of(syntax)[0] == "BAD_USER_INPUT"
    forbidden = await post(live, api.keys[Role.VIEWER], "{ apiKeys { id } }")
    assert error_of(forbidden)[0] == "FORBIDDEN"
    pending = await post(
        live,
        api.keys[Role.REVIEWER],
        'mutation { decideAccess(input: {entryId: "e", decision: PENDING}) { entry { id } } }',
    )
    assert error_of(pending)[0] == "BAD_USER_INPUT"  # refused by the schema, not at run time


async def test_user_error_paths_start_at_the_argument_and_are_camel_case(live: LiveServer) -> None:
    api = await api_for(live)
    gone = await api(
        'mutation { disconnectIntegration(id: "int_nope") { userErrors { field code } } }'
    )
    assert gone["disconnectIntegration"]["userErrors"] == [{"field": ["id"], "code": "NOT_FOUND"}]
    trigger = await api(
        'mutation { triggerSync(integrationId: "int_nope") { userErrors { field code } } }'
    )
    assert trigger["triggerSync"]["userErrors"] == [
        {"field": ["integrationId"], "code": "NOT_FOUND"}
    ]
    key = await api(
        'mutation { createApiKey(input: {role: VIEWER, name: "%s"}) { userErrors { field } } }'
        % ("x" * 201)
    )
    assert key["createApiKey"]["userErrors"] == [{"field": ["input", "name"]}]
    offboarded = await api(
        'mutation { upsertPeople(input: [{email: "a@acme.test", status: OFFBOARDED}]) {'
        " userErrors { field message } } }"
    )
    [problem] = offboarded["upsertPeople"]["userErrors"]
    assert problem["field"] == ["input", "0", "offboardedAt"]
    assert "offboardedAt" in problem["message"] and "offboarded_at" not in problem["message"]


async def seeded_review(api: Api, live: LiveServer) -> tuple[str, str]:
    """A snapshot of three accounts, Confluence critical, and an OPEN review of it."""
    integration = await connected(live.container.store, api.org_id)
    await seed_snapshot(
        live.container.store,
        integration,
        [
            account("acc-1", admin=True, email="ann@acme.test"),
            account("acc-2", status="inactive", type="app"),
            account("acc-3", status="not-a-status-yet"),
        ],
        "snap_contract_1",
    )
    added = await api("mutation { addCriticalSystem(input: {}) { criticalSystem { id } } }")
    system_id = added["addCriticalSystem"]["criticalSystem"]["id"]
    started = await api(
        "mutation($id: ID!) { startAccessReview(input: {criticalSystemId: $id}) {"
        " accessReview { id } } }",
        {"id": system_id},
    )
    return integration.id, started["startAccessReview"]["accessReview"]["id"]


async def test_console_reads_accounts_and_who_decided(live: LiveServer) -> None:
    api = await api_for(live)
    _, review_id = await seeded_review(api, live)

    one = await api(
        """{ account(accountId: "acc-2") { accountId accountType accountStatus
        identity { classification kind method } } }""",
        role=Role.VIEWER,
    )
    assert one["account"] == {
        "accountId": "acc-2",
        "accountType": "APP",
        "accountStatus": "INACTIVE",
        "identity": {"classification": "UNIDENTIFIED", "kind": None, "method": None},
    }  # seeded without a sync: identities are resolved after syncs
    inactive = await api(
        "{ accounts(filter: {status: INACTIVE}) { edges { node { accountId } } } }"
    )
    assert [e["node"]["accountId"] for e in inactive["accounts"]["edges"]] == ["acc-2"]
    unknown = await api('{ account(accountId: "acc-3") { accountStatus } }')
    assert unknown["account"]["accountStatus"] == "UNKNOWN"  # a value Atlassian adds later

    first = await api(
        "{ accounts(first: 2) { pageInfo { hasNextPage hasPreviousPage "
        "startCursor endCursor } edges { cursor } } }"
    )
    info = first["accounts"]["pageInfo"]
    edges = first["accounts"]["edges"]
    assert info["hasNextPage"] and not info["hasPreviousPage"]
    assert (info["startCursor"], info["endCursor"]) == (edges[0]["cursor"], edges[-1]["cursor"])
    rest = await api(
        "query($after: String) { accounts(after: $after) { pageInfo { hasPreviousPage } } }",
        {"after": info["endCursor"]},
    )
    assert rest["accounts"]["pageInfo"]["hasPreviousPage"]

    entries = await api(
        "query($id: ID!) { accessReview(id: $id) { entries { edges { node { id accountId "
        "accountStatus } } } } }",
        {"id": review_id},
    )
    nodes = [e["node"] for e in entries["accessReview"]["entries"]["edges"]]
    assert [n["accountStatus"] for n in nodes] == ["ACTIVE", "UNKNOWN"]  # inactive: not reviewed
    decided = await api(
        """mutation($id: ID!) { decideAccess(input: {entryId: $id, decision: KEEP}) {
        entry { decidedBy decidedByActor { apiKeyId name role } } userErrors { code } } }""",
        {"id": nodes[0]["id"]},
        Role.REVIEWER,
    )
    entry = decided["decideAccess"]["entry"]
    assert entry["decidedByActor"] == {
        "apiKeyId": entry["decidedBy"],
        "name": "REVIEWER",
        "role": "REVIEWER",
    }
    # Another REVIEWER (not allowed to list keys) still sees who decided.
    other = (
        await live.container.services.api_keys.create_api_key_for(api.org_id, Role.VIEWER, "v2")
    ).secret
    seen = await post(
        live,
        other,
        "query($id: ID!) { accessReview(id: $id) { entries(decision: KEEP) { edges { node {"
        " decidedByActor { name role } } } } } }",
        {"id": review_id},
    )
    [node] = [e["node"] for e in seen["data"]["accessReview"]["entries"]["edges"]]
    assert node["decidedByActor"] == {"name": "REVIEWER", "role": "REVIEWER"}


async def test_people_cursors_carry_no_email(live: LiveServer) -> None:
    api = await api_for(live)
    await api(
        'mutation { upsertPeople(input: [{email: "ann@acme.test"}, {email: "bob@acme.test"}])'
        " { created } }"
    )
    page = (await api("{ people(first: 1) { pageInfo { endCursor } } }"))["people"]
    cursor = page["pageInfo"]["endCursor"]
    decoded = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    assert "@" not in decoded and "ann" not in decoded
    rest = await api(
        "query($after: String) { people(after: $after) { edges { node { email } } } }",
        {"after": cursor},
    )
    assert [e["node"]["email"] for e in rest["people"]["edges"]] == ["bob@acme.test"]
    forged = base64.urlsafe_b64encode(b"ann@acme.test").decode()
    with pytest.raises(TransportQueryError, match="after is not a valid cursor"):
        await api("query($a: String) { people(after: $a) { totalCount } }", {"a": forged})


async def test_disconnected_integrations_are_listed_only_on_request(live: LiveServer) -> None:
    api = await api_for(live)
    store = live.container.store
    live_one = await connected(store, api.org_id)
    old = await store.integrations.create(
        organization_id=api.org_id,
        purpose=Purpose.POLICY,
        auth_method=live_one.auth_method,
        status=IntegrationStatus.DISCONNECTED,
        sync_interval_minutes=360,
    )
    default = await api("{ integrations { id } }")
    assert [i["id"] for i in default["integrations"]] == [live_one.id]
    asked = await api("{ integrations(status: [DISCONNECTED]) { id status } }")
    assert asked["integrations"] == [{"id": old.id, "status": "DISCONNECTED"}]
    by_purpose = await api("{ integrations(purpose: POLICY, status: [CONNECTED]) { id } }")
    assert by_purpose["integrations"] == []


async def manual_run(live: LiveServer, integration_id: str, org_id: str) -> str:
    """A finished manual run: 3 requests, 7 items fetched, 3 accounts."""
    return await finished_run(
        live.container.store,
        org_id,
        integration_id,
        SyncTrigger.MANUAL,
        requests_made=3,
        items_fetched=7,
        accounts=3,
    )


async def test_sync_run_by_id_and_progress_sends_the_current_state_once(live: LiveServer) -> None:
    api = await api_for(live)
    integration = await connected(live.container.store, api.org_id)
    run_id = await manual_run(live, integration.id, api.org_id)
    fields = "id status snapshotId initial progress { phase itemsFetched } counts { accounts }"
    found = await api(f'{{ syncRun(id: "{run_id}") {{ {fields} }} }}', role=Role.VIEWER)
    assert found["syncRun"]["progress"] == {"phase": "DONE", "itemsFetched": 7}
    assert found["syncRun"]["snapshotId"] and found["syncRun"]["initial"] is False
    other = await api_for(live)
    assert (await other(f'{{ syncRun(id: "{run_id}") {{ id }} }}'))["syncRun"] is None

    query = f"subscription($id: ID!) {{ syncProgress(integrationId: $id) {{ {fields} }} }}"
    async with gql_ws(live.ws_url, api.keys[Role.VIEWER]) as session:
        stream = session.subscribe(GraphQLRequest(query, variable_values={"id": integration.id}))
        first = (await asyncio.wait_for(anext(stream), 10))["syncProgress"]
        assert (first["id"], first["status"], first["initial"]) == (run_id, "SUCCEEDED", True)
        # A new run is the next message: the old one is never announced again as finished.
        queued = await api(
            "mutation($id: ID!) { triggerSync(integrationId: $id) { syncRun { id } } }",
            {"id": integration.id},
        )
        new_id = queued["triggerSync"]["syncRun"]["id"]
        second = (await asyncio.wait_for(anext(stream), 10))["syncProgress"]
        assert (second["id"], second["initial"]) == (new_id, False)
        await stream.aclose()


async def ws_error(live: LiveServer, key: str, query: str) -> dict[str, Any]:
    """The error a subscription ends with, as the client sees it."""
    async with gql_ws(live.ws_url, key) as session:
        with pytest.raises(TransportQueryError) as raised:
            await asyncio.wait_for(anext(session.subscribe(GraphQLRequest(query))), 10)
    errors = raised.value.errors or []
    return dict(errors[0])


async def test_subscription_errors_carry_a_code(live: LiveServer) -> None:
    api = await api_for(live)
    key = api.keys[Role.ADMIN]
    missing = await ws_error(
        live, key, 'subscription { syncProgress(integrationId: "int_nope") { id } }'
    )
    assert missing["extensions"]["code"] == "NOT_FOUND"
    assert missing["message"] == "integration int_nope not found"
    unknown = await ws_error(live, key, "subscription { noSuchThing { id } }")
    assert unknown["extensions"]["code"] == "BAD_USER_INPUT"

    integration = await connected(live.container.store, api.org_id)
    sync = live.container.sync.service

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("database on fire")
        yield  # an async generator, like the real one

    original = sync.follow
    sync.follow = broken  # type: ignore[method-assign]
    try:
        crashed = await ws_error(
            live,
            key,
            f'subscription {{ syncProgress(integrationId: "{integration.id}") {{ id }} }}',
        )
    finally:
        sync.follow = original  # type: ignore[method-assign]
    assert crashed["extensions"]["code"] == "INTERNAL" and crashed["extensions"]["requestId"]
    assert "fire" not in crashed["message"]


async def test_integration_settings_can_be_changed_by_an_admin(live: LiveServer) -> None:
    api = await api_for(live)
    integration = await connected(live.container.store, api.org_id)
    update = """mutation($input: UpdateIntegrationSettingsInput!) {
      updateIntegrationSettings(input: $input) {
        integration { syncIntervalMinutes cql adminGroups } userErrors { field code } } }"""

    def change(**fields: Any) -> dict[str, Any]:
        return {"input": {"integrationId": integration.id, **fields}}

    done = await api(update, change(syncIntervalMinutes=60, adminGroups=["Admins", "admins", "IT"]))
    assert done["updateIntegrationSettings"] == {
        "integration": {"syncIntervalMinutes": 60, "cql": None, "adminGroups": ["Admins", "IT"]},
        "userErrors": [],
    }
    stored = await live.container.store.integrations.get(
        organization_id=api.org_id, integration_id=integration.id
    )
    assert stored is not None and stored.admin_groups == ("Admins", "IT")
    for fields, path in [
        ({"syncIntervalMinutes": 1}, ["input", "syncIntervalMinutes"]),
        ({"cql": "type = page"}, ["input", "cql"]),  # ACCESS_REVIEW has no CQL
        ({"adminGroups": []}, ["input", "adminGroups"]),
    ]:
        refused = (await api(update, change(**fields)))["updateIntegrationSettings"]
        assert refused["integration"] is None
        assert refused["userErrors"] == [{"field": path, "code": "VALIDATION_FAILED"}]
    viewer = (await api(update, change(syncIntervalMinutes=60), Role.VIEWER))[
        "updateIntegrationSettings"
    ]
    assert viewer["userErrors"] == [{"field": None, "code": "FORBIDDEN"}]


async def test_review_changes_are_pushed_to_every_role(live: LiveServer) -> None:
    api = await api_for(live)
    _, review_id = await seeded_review(api, live)
    entries = await api(
        "query($id: ID!) { accessReview(id: $id) { entries { edges { node { id } } } } }",
        {"id": review_id},
    )
    entry_id = entries["accessReview"]["entries"]["edges"][0]["node"]["id"]
    query = """subscription($id: ID) { accessReviewChanged(reviewId: $id) {
      id status pendingCount entries(decision: KEEP) { edges { node { id decidedByActor {
      role } } } } } }"""
    async with gql_ws(live.ws_url, api.keys[Role.VIEWER]) as session:
        stream = session.subscribe(GraphQLRequest(query, variable_values={"id": review_id}))
        first = asyncio.ensure_future(anext(stream))
        topic = topic_for(api.org_id, REVIEWS_CHANNEL)
        await until(lambda: live.container.bus.subscriber_count(topic), what="a listener")
        decided = await api(
            "mutation($id: ID!) { decideAccess(input: {entryId: $id, decision: KEEP}) {"
            " userErrors { code } } }",
            {"id": entry_id},
            Role.REVIEWER,
        )
        assert decided["decideAccess"]["userErrors"] == []
        review = (await asyncio.wait_for(first, 10))["accessReviewChanged"]
        await stream.aclose()
    assert (review["id"], review["status"], review["pendingCount"]) == (review_id, "OPEN", 1)
    [node] = [e["node"] for e in review["entries"]["edges"]]
    assert node == {"id": entry_id, "decidedByActor": {"role": "REVIEWER"}}


async def test_node_refetches_any_object_of_the_callers_organization(live: LiveServer) -> None:
    api = await api_for(live)
    integration_id, review_id = await seeded_review(api, live)
    run_id = await manual_run(live, integration_id, api.org_id)
    people = await api(
        'mutation { upsertPeople(input: [{email: "ann@acme.test"}]) { people { id } } }'
    )
    person_id = people["upsertPeople"]["people"][0]["id"]
    me = await api("{ me { apiKeyId } }")
    query = """query($id: ID!) { node(id: $id) { __typename id
      ... on Integration { integrationStatus: status } ... on SyncRun { runStatus: status }
      ... on Person { email } ... on AccessReview { reviewStatus: status }
      ... on ApiKey { role } } }"""
    expected = {
        integration_id: ("Integration", {"integrationStatus": "CONNECTED"}),
        run_id: ("SyncRun", {"runStatus": "SUCCEEDED"}),
        person_id: ("Person", {"email": "ann@acme.test"}),
        review_id: ("AccessReview", {"reviewStatus": "OPEN"}),
        me["me"]["apiKeyId"]: ("ApiKey", {"role": "ADMIN"}),
    }
    for node_id, (typename, fields) in expected.items():
        node = (
            await api(query, {"id": node_id}, Role.VIEWER if typename != "ApiKey" else Role.ADMIN)
        )["node"]
        assert node == {"__typename": typename, "id": node_id, **fields}
    other = await api_for(live)
    for node_id in [*expected, "nope_123", "int_missing", ""]:
        assert (await other(query, {"id": node_id}))["node"] is None


async def first_after(
    live: LiveServer, key: str, query: str, topic: str, cause: Callable[[], Awaitable[Any]]
) -> Any:
    """The first message of a subscription once it listens and ``cause`` ran."""
    async with gql_ws(live.ws_url, key) as session:
        stream = session.subscribe(GraphQLRequest(query))
        first = asyncio.ensure_future(anext(stream))
        await until(lambda: live.container.bus.subscriber_count(topic), what="a listener")
        await cause()
        message = await asyncio.wait_for(first, 10)
        await stream.aclose()
    return message


async def test_people_and_policy_changes_are_pushed(live: LiveServer) -> None:
    api = await api_for(live)
    viewer = api.keys[Role.VIEWER]

    async def import_two() -> Any:
        return await api(
            'mutation { upsertPeople(input: [{email: "a@acme.test"}, {email: "b@acme.test"}])'
            " { created } }"
        )

    people = await first_after(
        live,
        viewer,
        "subscription { peopleChanged { totalCount changedAt } }",
        topic_for(api.org_id, PEOPLE_CHANNEL),
        import_two,
    )
    assert people["peopleChanged"]["totalCount"] == 2

    async def activate_iso() -> Any:
        return await api(
            "mutation { activateFrameworks(frameworks: [ISO27001]) { userErrors { code } } }"
        )

    policies = await first_after(
        live,
        viewer,
        "subscription { policiesChanged { policyType frameworks } }",
        topic_for(api.org_id, POLICIES_CHANNEL),
        activate_iso,
    )
    types = {p["policyType"] for p in policies["policiesChanged"]}
    assert "PHYSICAL_SECURITY" in types and "CODE_OF_CONDUCT" not in types  # ISO 27001 only


async def test_people_can_be_ordered_and_paged_in_that_order(live: LiveServer) -> None:
    api = await api_for(live)
    for batch in (["c@acme.test", "a@acme.test"], ["b@acme.test"], ["d@acme.test"]):
        await api(
            "mutation($p: [PersonInput!]!) { upsertPeople(input: $p) { created } }",
            {"p": [{"email": e} for e in batch]},
        )
    await api('mutation { upsertPeople(input: [{email: "a@acme.test", name: "A"}]) { updated } }')
    query = """query($after: String, $order: PersonOrder) {
      people(first: 1, after: $after, orderBy: $order) {
        pageInfo { hasNextPage endCursor } edges { node { email updatedAt } } } }"""

    async def walk(order: dict[str, str] | None) -> list[dict[str, str]]:
        seen, after = [], None
        while True:
            page = (await api(query, {"after": after, "order": order}))["people"]
            seen += [e["node"] for e in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                return seen
            after = page["pageInfo"]["endCursor"]

    by_email = await walk(None)
    assert [p["email"] for p in by_email] == [
        "a@acme.test",
        "b@acme.test",
        "c@acme.test",
        "d@acme.test",
    ]
    backwards = await walk({"field": "EMAIL", "direction": "DESC"})
    assert backwards == list(reversed(by_email))
    newest = await walk({"field": "UPDATED_AT", "direction": "DESC"})
    assert newest[0]["email"] == "a@acme.test"  # renamed last
    expected = sorted(by_email, key=lambda p: (p["updatedAt"], p["email"]), reverse=True)
    assert newest == expected
    oldest = await walk({"field": "UPDATED_AT"})
    assert oldest == list(reversed(expected))
