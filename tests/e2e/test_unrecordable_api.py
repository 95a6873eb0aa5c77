"""A check whose outcome the store refuses to record (a document over its limit) is ERROR over
GraphQL, with a reason a console can show, and the refusal is counted at /metrics (issue 24).

On the wire server; the store's limit is lowered so that 1,500 accounts exceed it (at the
default 4 MB the same happens only far beyond 1,000,000 accounts).
"""

from __future__ import annotations

import httpx
import pytest

from services.models import AccountStatus, AccountType, Principal, Role
from services.reviews.models import SystemKind
from services.reviews.systems import SystemSettings
from services.sync.models import SnapshotAccount
from tests.access.support import connected, seed_snapshot
from tests.conftest import open_store, start_live_server

pytestmark = pytest.mark.wire

CHECKS = """{ checks { id result { status reason evidenceId
  failingItems(first: 5) { totalCount } exceptedItems { resourceId } } } }"""


def accounts(n: int) -> list[SnapshotAccount]:
    return [
        SnapshotAccount(
            account_id=f"712020:{i:036d}",
            display_name=f"User {i}",
            email=f"user{i}@acme.test",
            account_type=AccountType.ATLASSIAN,
            account_status=AccountStatus.ACTIVE,
            is_admin=False,
            mfa_enabled=True,
            groups=("confluence-users",),
        )
        for i in range(n)
    ]


async def test_a_check_that_cannot_be_recorded_is_an_error_over_graphql(wire_url: str) -> None:
    store = open_store("wire", wire_url)
    store.guard.limit = 16 * 1024
    live, server, task = await start_live_server(store)
    try:
        container = live.container
        org, created = await container.services.organizations.create_organization("Acme")
        admin = Principal(org.id, Role.ADMIN, created.key.id)
        integration = await connected(store, org.id)
        await seed_snapshot(store, integration, accounts(1_500), "snap_1")
        await container.services.systems.add(admin, SystemKind.CONFLUENCE, SystemSettings())
        await container.reevaluator.settle()

        headers = {"Authorization": f"Bearer {created.secret}"}
        async with httpx.AsyncClient(timeout=30, headers=headers) as http:
            response = await http.post(live.graphql_url, json={"query": CHECKS})
            metrics = (await http.get(f"{live.url}/metrics")).text
        body = response.json()
        assert response.status_code == 200 and "errors" not in body, body
        results = {c["id"]: c["result"] for c in body["data"]["checks"]}
        identified = results["confluence-user-identified"]
        assert identified["status"] == "ERROR", identified
        assert "could not be recorded" in identified["reason"]
        assert "16,384 bytes" in identified["reason"]
        assert identified["failingItems"] == {"totalCount": 0} and identified["exceptedItems"] == []
        assert identified["evidenceId"]  # the ERROR itself is sealed
        refused = [
            line
            for line in metrics.splitlines()
            if line.startswith('vigil_store_documents_refused_total{collection="evidence_chunks"}')
        ]
        assert refused and float(refused[0].split()[-1]) >= 1, metrics
        status = await container.services.evidence.verify(admin)
        assert status.valid, status
    finally:
        await store.drop()
        server.should_exit = True
        await task
