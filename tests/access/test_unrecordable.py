"""A changed outcome the store refuses to record (a document over its limit) becomes an ERROR
result that says so — recorded, sealed, published — instead of being skipped in silence and
rebuilt at every evaluation (issue 24). Both stores."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from services.checks.engine import UNRECORDED_RETRY, CheckEngine
from services.checks.events import CHECKS_CHANNEL, result_from_event
from services.checks.models import CheckStatus
from services.events import InMemoryEventBus, topic_for
from services.evidence.recorder import EvidenceRecorder
from services.models import Principal, Role
from services.store import Store
from tests.access.test_engine import ORG, Box, Clock, Fake
from tests.evidence.support import service

VIEWER = Principal(ORG, Role.VIEWER, "key_viewer")
LIMIT = 16 * 1024


async def test_an_outcome_too_large_to_record_is_an_error_that_says_so(store: Store) -> None:
    store.guard.limit = LIMIT  # 3,000 failing items: chunks and item documents over it
    evidence = service(store, check_ids=lambda: {Fake.id})
    recorder = EvidenceRecorder(
        evidence, integrations=store.integrations, check_exceptions=store.check_exceptions
    )
    box, bus, clock = Box([f"acc-{i:06d}" for i in range(3_000)]), InMemoryEventBus(), Clock()
    eng = CheckEngine(
        bus,
        check_results=store.check_results,
        checks=(Fake(),),
        sources={"box": box},
        record_evidence=recorder,
        clock=clock,
    )
    events = bus.subscribe(topic_for(ORG, CHECKS_CHANNEL))
    pending = asyncio.ensure_future(anext(events))
    await asyncio.sleep(0)

    [first] = await eng.evaluate(ORG)
    assert first.changed and first.result.status is CheckStatus.ERROR
    reason = first.result.reason or ""
    assert "could not be recorded" in reason and "evidence_chunks" in reason
    assert f"{LIMIT:,}" in reason and first.result.failing_items == ()
    refused = sum(store.guard.refusals.values())
    assert refused == 1
    pushed = result_from_event(await pending).result
    assert pushed.status is CheckStatus.ERROR and pushed.reason == reason
    latest = await store.check_results.get_latest(organization_id=ORG, check_id=Fake.id)
    assert latest is not None and latest.status is CheckStatus.ERROR
    assert latest.evidence_id == first.result.evidence_id is not None
    sealed = await evidence.get(VIEWER, latest.evidence_id or "")
    assert sealed is not None and sealed.content()["result"]["status"] == "ERROR"
    assert (await evidence.verify(VIEWER)).valid

    # The same outcome is not rebuilt and refused again at every evaluation...
    [again] = await eng.evaluate(ORG)
    assert not again.changed and again.result.status is CheckStatus.ERROR
    assert again.result.reason == reason and sum(store.guard.refusals.values()) == refused
    # ...but is tried again after a while (a raised limit would take effect then).
    clock.now += UNRECORDED_RETRY + timedelta(minutes=1)
    [retried] = await eng.evaluate(ORG)
    assert not retried.changed and retried.result.status is CheckStatus.ERROR
    assert sum(store.guard.refusals.values()) == refused + 1

    # A new outcome that fits is recorded as usual.
    box.failing = ["acc-000001", "acc-000002"]
    [fits] = await eng.evaluate(ORG)
    assert fits.changed and fits.result.status is CheckStatus.FAILING
    latest = await store.check_results.get_latest(organization_id=ORG, check_id=Fake.id)
    assert latest is not None and [i.resource_id for i in latest.failing_items] == box.failing
    rows, _ = await store.check_results.list_history(
        organization_id=ORG, check_id=Fake.id, limit=10, before=None
    )
    assert [r.status for r in rows] == [CheckStatus.FAILING, CheckStatus.ERROR]
    assert (await evidence.verify(VIEWER)).valid
    # Nothing half-written was left behind by the refused attempts: the items of the result
    # that fits (one chunk and its manifest) are all there is.
    assert await store._db["check_items"].count_documents({"items": {"$exists": True}}) == 1
    assert await store._db["check_items"].count_documents({"chunks": {"$exists": True}}) == 1
