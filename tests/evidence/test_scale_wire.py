"""100,000 accounts on the wire server (issue 24): every access check is recorded, with its
evidence, and the chain verifies; no document of any collection comes near MongoDB's limit.

Before evidence format 2 each record carried the whole population inline (21 to 26 MB here,
ADR 011) and each result its failing items (up to 6 MB): the server refused them
(``DocumentTooLarge``), the engine logged "will be retried" and skipped the checks. The
population is built in memory and handed to the engine as its data source's data (no
simulated sync, no 100,000-document snapshot to write); everything the engine and the
evidence recorder write goes to the wire server as in production.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from api.container import build_evidence
from api.settings import Settings
from services.checks.access.data import ACCESS
from services.checks.engine import CheckEngine
from services.checks.models import CheckStatus
from services.checks.registry import CHECKS
from services.crypto import generate_key
from services.events import InMemoryEventBus
from services.evidence.recorder import EvidenceRecorder
from services.models import Principal, Role
from services.store import Store
from testkit.access_scale import ORG, Given, access_data

pytestmark = pytest.mark.wire

ACCOUNTS = 100_000
MONGODB_LIMIT = 16 * 1024 * 1024
STORE_LIMIT = 4 * 1024 * 1024


async def largest_documents(store: Store) -> dict[str, int]:
    """The BSON size of the largest document of every collection, measured by the server."""
    db: Any = store._db
    sizes = {}
    for name in await db.list_collection_names():
        pipeline = [{"$project": {"size": {"$bsonSize": "$$ROOT"}}}, {"$sort": {"size": -1}}]
        top = await db[name].aggregate([*pipeline, {"$limit": 1}]).to_list(1)
        sizes[name] = int(top[0]["size"]) if top else 0
    return sizes


async def test_100k_accounts_every_access_check_is_recorded_and_verifies(
    wire_store: Store,
) -> None:
    store = wire_store
    now = datetime.now(UTC).replace(microsecond=0)
    started = time.perf_counter()
    data = access_data(ACCOUNTS, now)
    settings = Settings(env="development", evidence_hmac_key=generate_key())
    evidence = build_evidence(settings, store)  # what the composition root wires
    engine = CheckEngine(
        InMemoryEventBus(),
        check_results=store.check_results,
        checks=[c for c in CHECKS if c.source == ACCESS],
        sources={ACCESS: Given(data)},
        record_evidence=EvidenceRecorder(
            evidence, integrations=store.integrations, check_exceptions=store.check_exceptions
        ),
        clock=lambda: now,
    )
    built = time.perf_counter() - started

    started = time.perf_counter()
    evaluations = await engine.evaluate(ORG)
    evaluated = time.perf_counter() - started

    access = {c.id for c in CHECKS if c.source == ACCESS}
    states = await store.check_results.states(organization_id=ORG)
    assert set(states) == access, "every access check has a stored result"
    assert {e.check.id for e in evaluations if e.changed} == access
    statuses = {check_id: s.status for check_id, s in states.items()}
    assert CheckStatus.ERROR not in statuses.values(), statuses
    assert statuses["confluence-user-identified"] is CheckStatus.FAILING
    assert all(s.evidence_id for s in states.values())

    viewer = Principal(organization_id=ORG, role=Role.VIEWER, api_key_id="key_viewer")
    started = time.perf_counter()
    status = await evidence.verify(viewer)
    verified = time.perf_counter() - started
    assert status.valid and status.checked_count == len(access), status

    mfa = next(e.result for e in evaluations if e.check.id == "confluence-mfa-enabled")
    staff_without_mfa = sum(1 for i in range(ACCOUNTS) if i % 3 == 0 and i % 10 != 9)
    assert len(mfa.failing_items) == staff_without_mfa
    page = await store.check_results.failing_page(
        organization_id=ORG, result_id=mfa.id or "", offset=20_000, limit=3
    )
    assert page == list(mfa.failing_items[20_000:20_003])

    sizes = await largest_documents(store)
    print(
        f"\n100k wire: data built {built:.1f} s, evaluated and recorded {evaluated:.1f} s, "
        f"verified {verified:.1f} s; largest documents {sorted(sizes.items(), key=lambda kv: -kv[1])[:4]}"
    )
    assert max(sizes.values()) < STORE_LIMIT < MONGODB_LIMIT, sizes
