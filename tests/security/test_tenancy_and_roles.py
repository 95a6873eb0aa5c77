"""Tenant isolation and role enforcement, for every operation the schema has.

Organization A is seeded with one of everything; its ids are harvested from every stored
collection (so a new collection is covered too). For every query and mutation that takes an
ID, organization B's key with each of A's ids must get exactly the answer a made-up id gets.
Every mutation is called with a VIEWER key (always FORBIDDEN, nothing written) and a
REVIEWER key (FORBIDDEN except the review decisions and the audit package).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from services.models import Role
from testkit.live import LiveServer, live_server
from tests.access.builders import account
from tests.access.support import connected, seed_snapshot
from tests.evidence.support import entry
from tests.security.schema_calls import Operation, operations

# A REVIEWER decides and completes access reviews, and asks for the auditor's package (issue
# 27: it writes nothing, it answers where to download it).
REVIEWER_MUTATIONS = {"decideAccess", "completeAccessReview", "requestAuditPackage"}


@dataclass
class World:
    live: LiveServer
    http: httpx.AsyncClient
    org_a: str
    keys: dict[str, str]  # "A" (admin of A), "B" (admin of B), "VIEWER", "REVIEWER" (of B)
    a_ids: list[str]

    async def call(self, who: str, op: Operation, id_value: str) -> dict[str, Any]:
        resp = await self.http.post(
            self.live.graphql_url,
            json={"query": op.document(), "variables": op.variables(id_value)},
            headers={"Authorization": f"Bearer {self.keys[who]}"},
        )
        assert resp.status_code == 200, (op.name, resp.status_code, resp.text)
        body: dict[str, Any] = resp.json()
        for error in body.get("errors", ()):
            assert "internal error" not in error["message"], (op.name, error)
        return body


@pytest.fixture(scope="module")
async def world() -> AsyncIterator[World]:
    async with live_server(rate_limit_per_minute=100_000) as live:
        organizations, api_keys = (
            live.container.services.organizations,
            live.container.services.api_keys,
        )
        org_a, admin_a = await organizations.create_organization("A")
        org_b, admin_b = await organizations.create_organization("B")
        viewer = await api_keys.create_api_key_for(org_b.id, Role.VIEWER, "viewer of B")
        reviewer = await api_keys.create_api_key_for(org_b.id, Role.REVIEWER, "reviewer of B")
        # Each organization's evidence signing key, as the worker's first checkpoint leaves it
        # (it is created on first use: reading the public key must not count as a write).
        signer = live.container.services.evidence.signer
        assert signer is not None
        for org in (org_a, org_b):
            await signer.key(org.id)
        async with httpx.AsyncClient(timeout=30) as http:
            keys = {
                "A": admin_a.secret,
                "B": admin_b.secret,
                "VIEWER": viewer.secret,
                "REVIEWER": reviewer.secret,
            }
            world = World(live, http, org_a.id, keys, [])
            await _seed(world)
            await live.settled()  # the check results and evidence the seed sets off, too
            world.a_ids = await _harvest_ids(live, org_a.id)
            yield world


async def _seed(world: World) -> None:
    """One of everything in organization A (through the API where it can be)."""
    store = world.live.container.store
    integration = await connected(store, world.org_a)
    accounts = [account("acc-1", email="ann@a.example"), account("acc-2", email="bob@a.example")]
    await seed_snapshot(store, integration, accounts, "snap_a_1")

    async def gql(query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        resp = await world.http.post(
            world.live.graphql_url,
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {world.keys['A']}"},
        )
        data: dict[str, Any] = resp.json()["data"]
        return data

    await gql(
        'mutation { upsertPeople(input: [{email: "ann@a.example", name: "Ann"}]) '
        "{ userErrors { code } } }"
    )
    system = await gql("mutation { addCriticalSystem(input: {}) { criticalSystem { id } } }")
    system_id = system["addCriticalSystem"]["criticalSystem"]["id"]
    await gql(
        "mutation($i: StartAccessReviewInput!) { startAccessReview(input: $i) "
        "{ userErrors { code } } }",
        {"i": {"criticalSystemId": system_id}},
    )
    hook = await gql(
        'mutation { createWebhookAlertChannel(input: {name: "ops", '
        'url: "https://hooks.example.com/in"}) { channel { id } } }'
    )
    channel_id = hook["createWebhookAlertChannel"]["channel"]["id"]
    await gql(
        "mutation($id: ID!) { sendTestAlert(channelId: $id) { delivery { id } } }",
        {"id": channel_id},
    )
    await world.live.container.services.evidence.record(
        entry(world.org_a, 1, check_id="confluence-document-setup")
    )


async def _harvest_ids(live: LiveServer, org: str) -> list[str]:
    """One id per stored collection of organization A, and its Atlassian account ids."""
    db = live.container.store._db
    ids: list[str] = []
    for name in sorted(await db.list_collection_names()):
        doc = await db[name].find_one({"organization_id": org})
        if doc is None:
            continue
        for value in (doc.get("_id"), doc.get("account_id")):
            if isinstance(value, str) and value not in ids and value != org:
                ids.append(value)
    assert len(ids) >= 8, ids  # the seed reached most collections
    return ids


def _made_up(value: str) -> str:
    tail = "0000" if not value.endswith("0000") else "1111"
    return value[:-4] + tail


def _normalised(body: dict[str, Any], *values: str) -> str:
    text = json.dumps(body, sort_keys=True)
    for value in values:
        text = text.replace(value, "<ID>")
    return text


ID_OPERATIONS = [op for op in operations() if op.takes_id]
MUTATIONS = [op for op in operations() if op.kind == "mutation"]


def test_the_generated_lists_cover_the_schema() -> None:
    names = {op.name for op in ID_OPERATIONS}
    assert {"integration", "revokeApiKey", "decideAccess", "evidenceRecord"} <= names
    assert len(MUTATIONS) >= 20


@pytest.mark.parametrize("op", ID_OPERATIONS, ids=lambda op: op.name)
async def test_another_organizations_ids_look_made_up(world: World, op: Operation) -> None:
    for a_id in world.a_ids:
        made_up = _made_up(a_id)
        theirs = await world.call("B", op, a_id)
        unknown = await world.call("B", op, made_up)
        assert _normalised(theirs, a_id) == _normalised(unknown, made_up), (op.name, a_id)


async def _counts(world: World) -> dict[str, int]:
    """Documents per collection, once the checks the seed's changes re-evaluate are stored."""
    await world.live.settled()
    db = world.live.container.store._db
    return {n: await db[n].count_documents({}) for n in await db.list_collection_names()}


def _codes(body: dict[str, Any], op: Operation) -> list[str]:
    payload = (body.get("data") or {}).get(op.name) or {}
    return [e["code"] for e in payload.get("userErrors") or ()]


async def test_a_viewer_can_call_no_mutation_and_writes_nothing(world: World) -> None:
    before = await _counts(world)
    for op in MUTATIONS:
        for id_value in (world.a_ids[0], "made-up-id"):
            body = await world.call("VIEWER", op, id_value)
            assert _codes(body, op) == ["FORBIDDEN"], (op.name, body)
    assert await _counts(world) == before


async def test_a_reviewer_can_only_decide_reviews(world: World) -> None:
    before = await _counts(world)
    for op in MUTATIONS:
        body = await world.call("REVIEWER", op, "made-up-id")
        codes = _codes(body, op)
        if op.name in REVIEWER_MUTATIONS:
            assert "FORBIDDEN" not in codes, (op.name, body)
        else:
            assert codes == ["FORBIDDEN"], (op.name, body)
    assert await _counts(world) == before
