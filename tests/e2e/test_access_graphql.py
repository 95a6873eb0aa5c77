"""The issue-6 GraphQL operations over HTTP (SPEC §7 names): userErrors, roles, paging and
organization scoping. Data that needs Confluence is seeded into the store. Both stores."""

from __future__ import annotations

from typing import Any

import pytest
from gql.transport.exceptions import TransportQueryError

from services.models import Role
from testkit.graphql_client import gql_http
from testkit.live import LiveServer
from tests.access.builders import account
from tests.access.support import connected, seed_snapshot

ERRORS = "userErrors { field code message }"
UPSERT = f"""mutation($people: [PersonInput!]!) {{ upsertPeople(input: $people) {{
  people {{ id email name status jobRole startDate offboardedAt }} created updated {ERRORS} }} }}"""
PEOPLE = """query($filter: PersonFilter, $first: Int, $after: String) {
  people(filter: $filter, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id email status } } } }"""
ADD = f"""mutation($input: AddCriticalSystemInput!) {{ addCriticalSystem(input: $input) {{
  criticalSystem {{ id system accessRule allowedRoles adminRoles reviewFrequencyDays }} {ERRORS} }} }}"""
UPDATE = f"""mutation($input: UpdateCriticalSystemInput!) {{ updateCriticalSystem(input: $input) {{
  criticalSystem {{ id accessRule allowedRoles adminRoles reviewFrequencyDays }} {ERRORS} }} }}"""
START = f"""mutation($input: StartAccessReviewInput!) {{ startAccessReview(input: $input) {{
  accessReview {{ id status entryCount pendingCount }} {ERRORS} }} }}"""
REVIEW = """query($id: ID!, $decision: AccessDecision, $after: String) { accessReview(id: $id) {
  id status completedAt pendingCount
  entries(first: 2, after: $after, decision: $decision) { totalCount pageInfo { hasNextPage endCursor }
    edges { node { id accountId isAdmin decision note decidedBy classification } } } } }"""
DECIDE = f"""mutation($input: DecideAccessInput!) {{ decideAccess(input: $input) {{
  entry {{ id decision note decidedBy decidedAt }} {ERRORS} }} }}"""
COMPLETE = f"""mutation($input: CompleteAccessReviewInput!) {{ completeAccessReview(input: $input) {{
  accessReview {{ id status pendingCount }} {ERRORS} }} }}"""
NOT_STAFF = f"""mutation($input: MarkAccountNotStaffInput!) {{ markAccountNotStaff(input: $input) {{
  account {{ accountId identity {{ classification kind reason method }} }} {ERRORS} }} }}"""
CLEAR = f"""mutation($id: ID!) {{ clearAccountIdentity(accountId: $id) {{
  account {{ accountId }} {ERRORS} }} }}"""
CHECKS = """{ checks { id title description fix controls { framework id title }
  result { status reason } } }"""
HISTORY = """query($id: ID!, $after: String) { checkHistory(checkId: $id, after: $after) {
  totalCount } }"""


class Api:
    def __init__(self, live: LiveServer, org_id: str, keys: dict[Role, str]) -> None:
        self.live, self.org_id, self.keys = live, org_id, keys

    async def __call__(
        self, query: str, variables: dict[str, Any] | None = None, role: Role = Role.ADMIN
    ) -> Any:
        return await gql_http(self.live.graphql_url, self.keys[role], query, variables)


async def api_for(live: LiveServer) -> Api:
    org, created = await live.container.services.organizations.create_organization("Acme")
    keys = {Role.ADMIN: created.secret}
    for role in (Role.REVIEWER, Role.VIEWER):
        keys[role] = (
            await live.container.services.api_keys.create_api_key_for(org.id, role, role.value)
        ).secret
    return Api(live, org.id, keys)


def codes(payload: dict[str, Any]) -> list[tuple[list[str] | None, str]]:
    return [(e["field"], e["code"]) for e in payload["userErrors"]]


async def test_people_operations(live: LiveServer) -> None:
    api = await api_for(live)
    bad = await api(
        UPSERT,
        {
            "people": [
                {"email": "ann@acme.test"},
                {"email": "nope"},
                {"email": "gone@acme.test", "status": "OFFBOARDED"},
            ]
        },
    )
    assert codes(bad["upsertPeople"]) == [
        (["input", "1", "email"], "VALIDATION_FAILED"),
        (["input", "2", "offboardedAt"], "VALIDATION_FAILED"),
    ]
    assert bad["upsertPeople"]["people"] == []
    viewer = await api(UPSERT, {"people": [{"email": "ann@acme.test"}]}, Role.VIEWER)
    assert codes(viewer["upsertPeople"]) == [(None, "FORBIDDEN")]

    good = (
        await api(
            UPSERT,
            {
                "people": [
                    {
                        "email": "Ann@acme.test",
                        "name": "Ann",
                        "jobRole": "Engineer",
                        "startDate": "2024-02-01",
                    },
                    {
                        "email": "bob@acme.test",
                        "status": "OFFBOARDED",
                        "offboardedAt": "2025-01-01T00:00:00Z",
                    },
                    {"email": "cy@acme.test"},
                ]
            },
        )
    )["upsertPeople"]
    assert good["userErrors"] == [] and good["created"] == 3
    assert good["people"][0]["startDate"] == "2024-02-01"
    assert good["people"][1]["offboardedAt"].startswith("2025-01-01T00:00:00")

    page = (await api(PEOPLE, {"first": 2}))["people"]
    assert page["totalCount"] == 3 and page["pageInfo"]["hasNextPage"]
    rest = (await api(PEOPLE, {"first": 2, "after": page["pageInfo"]["endCursor"]}))["people"]
    assert [e["node"]["email"] for e in page["edges"] + rest["edges"]] == [
        "Ann@acme.test",
        "bob@acme.test",
        "cy@acme.test",
    ]
    gone = (await api(PEOPLE, {"filter": {"status": "OFFBOARDED"}}))["people"]
    assert [e["node"]["email"] for e in gone["edges"]] == ["bob@acme.test"]
    with pytest.raises(TransportQueryError):
        await api(PEOPLE, {"first": 501})
    other = await api_for(live)
    assert (await other(PEOPLE))["people"]["totalCount"] == 0


async def test_critical_systems_reviews_and_identities(live: LiveServer) -> None:
    api = await api_for(live)
    refused = (await api(ADD, {"input": {}}))["addCriticalSystem"]
    assert codes(refused) == [(["input", "system"], "NOT_CONNECTED")]
    store = live.container.store
    integration = await connected(store, api.org_id)
    await seed_snapshot(
        store,
        integration,
        [
            account("acc-1", admin=True),
            account("acc-2"),
            account("acc-3"),
            account("acc-4", status="closed"),
        ],
        "snap_gql_1",
    )

    bad = (await api(ADD, {"input": {"accessRule": "ROLE_BASED"}}))["addCriticalSystem"]
    assert codes(bad) == [(["input", "allowedRoles"], "VALIDATION_FAILED")]
    added = (await api(ADD, {"input": {"system": "CONFLUENCE"}}))["addCriticalSystem"]
    system = added["criticalSystem"]
    assert (system["accessRule"], system["reviewFrequencyDays"]) == ("ALL_STAFF", 365)
    updated = await api(
        UPDATE,
        {
            "input": {
                "criticalSystemId": system["id"],
                "accessRule": "ROLE_BASED",
                "allowedRoles": ["Engineer"],
                "adminRoles": ["IT"],
            }
        },
    )
    assert updated["updateCriticalSystem"]["criticalSystem"]["allowedRoles"] == ["Engineer"]
    listed = await api("{ criticalSystems { id accessRule } }", role=Role.VIEWER)
    assert listed["criticalSystems"] == [{"id": system["id"], "accessRule": "ROLE_BASED"}]

    started = (await api(START, {"input": {"criticalSystemId": system["id"]}}))["startAccessReview"]
    review = started["accessReview"]
    assert (review["status"], review["entryCount"], review["pendingCount"]) == ("OPEN", 3, 3)
    again = (await api(START, {"input": {"criticalSystemId": system["id"]}}))["startAccessReview"]
    assert codes(again) == [(["input", "criticalSystemId"], "REVIEW_OPEN")]

    first = (await api(REVIEW, {"id": review["id"]}))["accessReview"]["entries"]
    assert first["totalCount"] == 3 and first["pageInfo"]["hasNextPage"]
    entry = first["edges"][0]["node"]
    assert (entry["accountId"], entry["isAdmin"], entry["classification"]) == (
        "acc-1",
        True,
        "UNIDENTIFIED",
    )
    no_note = (
        await api(DECIDE, {"input": {"entryId": entry["id"], "decision": "REVOKE"}}, Role.REVIEWER)
    )["decideAccess"]
    assert codes(no_note) == [(["input", "note"], "VALIDATION_FAILED")]
    viewer = (
        await api(DECIDE, {"input": {"entryId": entry["id"], "decision": "KEEP"}}, Role.VIEWER)
    )["decideAccess"]
    assert codes(viewer) == [(None, "FORBIDDEN")]
    decided = (
        await api(
            DECIDE,
            {"input": {"entryId": entry["id"], "decision": "DOWNGRADE", "note": "read only"}},
            Role.REVIEWER,
        )
    )["decideAccess"]
    assert decided["entry"]["decision"] == "DOWNGRADE" and decided["entry"]["decidedBy"]
    pending = await api(COMPLETE, {"input": {"reviewId": review["id"]}}, Role.REVIEWER)
    assert codes(pending["completeAccessReview"]) == [
        (["input", "markRemainingAs"], "PENDING_ENTRIES")
    ]
    assert "2 entries" in pending["completeAccessReview"]["userErrors"][0]["message"]
    done = (
        await api(
            COMPLETE,
            {"input": {"reviewId": review["id"], "markRemainingAs": "KEEP"}},
            Role.REVIEWER,
        )
    )["completeAccessReview"]
    assert done["accessReview"] == {"id": review["id"], "status": "COMPLETED", "pendingCount": 0}
    kept = (await api(REVIEW, {"id": review["id"], "decision": "KEEP"}))["accessReview"]
    assert [e["node"]["accountId"] for e in kept["entries"]["edges"]] == ["acc-2", "acc-3"]
    assert (await (await api_for(live))(REVIEW, {"id": review["id"]}))["accessReview"] is None

    blank = await api(
        NOT_STAFF, {"input": {"accountId": "acc-2", "kind": "SERVICE", "reason": " "}}
    )
    assert codes(blank["markAccountNotStaff"]) == [(["input", "reason"], "VALIDATION_FAILED")]
    marked = (
        await api(
            NOT_STAFF, {"input": {"accountId": "acc-2", "kind": "SERVICE", "reason": "CI bot"}}
        )
    )["markAccountNotStaff"]
    assert marked["account"]["identity"] == {
        "classification": "NOT_STAFF",
        "kind": "SERVICE",
        "reason": "CI bot",
        "method": "MANUAL",
    }
    assert codes((await api(CLEAR, {"id": "acc-nope"}))["clearAccountIdentity"]) == [
        (["accountId"], "NOT_FOUND")  # the path starts at the mutation's argument
    ]


async def test_checks_queries(live: LiveServer) -> None:
    api = await api_for(live)
    checks = (await api(CHECKS, role=Role.VIEWER))["checks"]
    ids = [c["id"] for c in checks]
    assert {
        "confluence-offboarded-access-removed",
        "confluence-user-identified",
        "confluence-access-valid",
        "confluence-access-review-completed",
        "confluence-mfa-enabled",
    } <= set(ids)
    assert all(c["title"] and c["fix"] and c["controls"] for c in checks)
    assert (await api("""{ check(id: "nope") { id } }"""))["check"] is None
    with pytest.raises(TransportQueryError, match="not found"):
        await api(HISTORY, {"id": "nope"})
    with pytest.raises(TransportQueryError, match="cursor"):
        await api(HISTORY, {"id": "confluence-user-identified", "after": "%%%"})
