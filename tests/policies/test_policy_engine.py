"""The policy checks in the engine with evidence and exceptions, on both stores.

A failing item is excepted (it moves to ``exceptedItems``), the exception expires (it fails
again), and every change leaves one evidence record; the chain verifies at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from services.check_exceptions.service import ExceptionService
from services.checks.engine import CheckEngine
from services.checks.models import CheckStatus
from services.checks.policy.data import POLICY, PolicyDataSource
from services.checks.policy.document_setup import DocumentSetup
from services.checks.policy.policy_current import PolicyCurrent
from services.events import InMemoryEventBus
from services.evidence.recorder import EvidenceRecorder
from services.evidence.service import EvidencedSnapshots, EvidenceService
from services.models import Principal, Role
from services.policies.catalogue import PolicyType
from services.policies.service import PolicyService
from services.store import Store
from tests.evidence.support import KEY
from tests.policies.support import NOW, page, policy_snapshot, state_loader

SETUP, CURRENT = "confluence-document-setup", "confluence-policy-current"


@dataclass
class Clock:
    now = NOW

    def __call__(self):  # type: ignore[no-untyped-def]
        return self.now


async def test_exception_and_expiry_with_evidence(store: Store) -> None:
    org = await store.organizations.create(name="Acme")
    admin = Principal(org.id, Role.ADMIN, "key_admin")
    clock = Clock()
    checks = (DocumentSetup(), PolicyCurrent())
    ids = lambda: {c.id for c in checks}  # noqa: E731
    evidence = EvidenceService(
        store.evidence, KEY, chunks=store.evidence_chunks, check_ids=ids, clock=clock
    )
    exceptions = ExceptionService(store.check_exceptions, check_ids=ids, clock=clock)
    loader = state_loader(store)
    engine = CheckEngine(
        InMemoryEventBus(),
        check_results=store.check_results,
        checks=checks,
        sources={POLICY: PolicyDataSource(loader)},
        record_evidence=EvidenceRecorder(
            evidence, integrations=store.integrations, check_exceptions=store.check_exceptions
        ),
        exceptions=exceptions,
        clock=clock,
    )
    policies = PolicyService(loader, policies=store.policies, clock=clock)
    integration = await policy_snapshot(
        store, org.id, [page("1", "Access Control Policy", age_days=300)]
    )
    # Monthly syncs: the snapshot stays fresh (< 3 intervals) over the 70 days simulated here.
    await store.integrations.update(integration_id=integration.id, sync_interval_minutes=43200)
    await policies.auto_map(org.id)
    await policies.approve(admin, PolicyType.ACCESS_CONTROL)

    first = {e.result.check_id: e.result for e in await engine.evaluate(org.id)}
    assert first[SETUP].status is CheckStatus.FAILING and len(first[SETUP].failing_items) == 12
    assert first[CURRENT].status is CheckStatus.PASSING
    assert first[SETUP].evidence_id and first[CURRENT].evidence_id

    await exceptions.create(
        admin,
        check_id=SETUP,
        resource_id="INFORMATION_SECURITY",
        reason="being written this quarter",
        expires_at=NOW + timedelta(days=1),
    )
    excepted = (await engine.evaluate(org.id))[0].result
    assert [i.resource_id for i in excepted.excepted_items] == ["INFORMATION_SECURITY"]
    assert len(excepted.failing_items) == 11 and excepted.status is CheckStatus.FAILING
    record = await evidence.get(admin, excepted.evidence_id or "")
    assert record is not None
    body = await evidence.expanded(admin, record)  # the lists read back from their chunks
    assert body["result"]["exceptions"][0]["reason"] == "being written this quarter"
    assert body["snapshot"] == {
        "id": "snap_1",
        "integrationId": integration.id,
        "takenAt": body["snapshot"]["takenAt"],
    }
    assert body["population"]["kind"] == "policies"

    clock.now = NOW + timedelta(days=2)  # the periodic evaluation, no other change
    changed = [e for e in await engine.evaluate(org.id) if e.changed]
    assert [e.result.check_id for e in changed] == [SETUP]
    expired = changed[0].result
    assert expired.excepted_items == () and len(expired.failing_items) == 12

    clock.now = NOW + timedelta(days=70)  # the page turns stale (300 + 70 days)
    stale = [e.result for e in await engine.evaluate(org.id) if e.changed]
    assert [(r.check_id, r.status) for r in stale] == [(CURRENT, CheckStatus.FAILING)]
    assert stale[0].failing_items[0].resource_id == "1"

    assert await engine.evaluate(org.id) and (await evidence.verify(admin)).checked_count == 5
    status = await evidence.verify(admin)
    assert status.valid and status.head_sequence == 5
    protected = await EvidencedSnapshots(
        integrations=store.integrations, evidence=store.evidence
    ).protected_snapshot_ids(integration.id)
    assert protected == {"snap_1"}
