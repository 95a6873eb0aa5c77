"""A database writer cannot rewind the chain head: sealed heads, result anchors, checkpoints."""

from __future__ import annotations

import asyncio
import json
import logging

import httpx
import pytest

from services.errors import ValidationFailed
from services.evidence.chain import EvidenceKey
from services.evidence.models import CHECK_RESULT, Anchor, EvidenceRecord
from services.evidence.service import EvidenceService
from services.evidence.verify import LinkProblem
from services.models import Principal, Role
from services.store import Store
from testkit.live import live_server
from tests.evidence.support import CHECKS, KEY, entry, raw

ORG = "org_a"
VIEWER = Principal(organization_id=ORG, role=Role.VIEWER, api_key_id="key_1")


def _service(store: Store, anchors: dict[str, str] | None = None) -> EvidenceService:
    async def current(org: str) -> list[Anchor]:
        found = sorted((anchors or {}).items()) if org == ORG else []
        return [Anchor(CHECK_RESULT, check, record) for check, record in found]

    return EvidenceService(
        store.evidence, KEY, chunks=store.evidence_chunks, check_ids=lambda: CHECKS, anchors=current
    )


async def _chain(store: Store, count: int) -> list[EvidenceRecord]:
    evidence = _service(store)
    return [await evidence.record(entry(ORG, n)) for n in range(1, count + 1)]


async def _delete_after(store: Store, sequence: int) -> None:
    await raw(store).delete_many({"organization_id": ORG, "sequence": {"$gt": sequence}})


async def test_deleting_the_newest_records_and_rewinding_the_head_is_detected(
    store: Store,
) -> None:
    records = await _chain(store, 8)
    await _delete_after(store, 5)
    heads = store._db["evidence_heads"]
    await heads.update_one({"_id": ORG}, {"$set": {"sequence": 5, "sha256": records[4].sha256}})
    status = await _service(store).verify(VIEWER)
    assert not status.valid and status.broken is not None
    assert status.broken.problem is LinkProblem.HEAD_MISMATCH
    assert status.broken.record_id is None


async def test_deleting_the_head_document_is_detected(store: Store) -> None:
    await _chain(store, 3)
    await store._db["evidence_heads"].delete_one({"_id": ORG})
    status = await _service(store).verify(VIEWER)
    assert status.broken is not None and status.broken.problem is LinkProblem.HEAD_MISMATCH


async def test_a_replayed_old_head_is_caught_by_the_results_pointing_past_it(store: Store) -> None:
    records = await _chain(store, 5)
    heads = store._db["evidence_heads"]
    old_head = await heads.find_one({"_id": ORG})  # an attacker saved the sealed head at #5
    records += [await _service(store).record(entry(ORG, n)) for n in range(6, 9)]
    await _delete_after(store, 5)
    await heads.replace_one({"_id": ORG}, old_head)
    # The chain alone now looks whole ...
    assert (await _service(store).verify(VIEWER)).valid
    # ... but a current check result still points at the deleted #8.
    status = await _service(store, {CHECKS[0]: records[7].id}).verify(VIEWER)
    assert status.broken is not None and status.broken.problem is LinkProblem.SEQUENCE_GAP
    assert (status.broken.sequence, status.broken.record_id) == (6, None)
    assert records[7].id in status.broken.message


async def test_a_checkpoint_kept_outside_exposes_a_consistent_rollback(store: Store) -> None:
    await _chain(store, 5)
    heads = store._db["evidence_heads"]
    old_head = await heads.find_one({"_id": ORG})
    await _chain_more(store, 6, 8)
    checkpoint = await _service(store).checkpoint(ORG)
    assert checkpoint is not None and checkpoint["sequence"] == 8
    assert (await _service(store).verify(VIEWER, checkpoint)).valid
    await _delete_after(store, 5)
    await heads.replace_one({"_id": ORG}, old_head)
    status = await _service(store).verify(VIEWER, checkpoint)
    assert status.broken is not None and status.broken.problem is LinkProblem.SEQUENCE_GAP
    assert status.broken.sequence == 6


async def test_a_forged_or_foreign_checkpoint_is_refused(store: Store) -> None:
    await _chain(store, 3)
    checkpoint = await _service(store).checkpoint(ORG)
    assert checkpoint is not None
    forged = {**checkpoint, "sequence": 2}
    status = await _service(store).verify(VIEWER, forged)
    assert status.broken is not None and status.broken.problem is LinkProblem.HEAD_MISMATCH
    other_key = EvidenceService(
        store.evidence,
        EvidenceKey(b"m" * 32),
        chunks=store.evidence_chunks,
        check_ids=lambda: CHECKS,
    )
    status = await other_key.verify(VIEWER, checkpoint)
    assert not status.valid
    other = Principal(organization_id="org_b", role=Role.VIEWER, api_key_id="key_2")
    with pytest.raises(ValidationFailed):
        await _service(store).verify(other, checkpoint)
    with pytest.raises(ValidationFailed):
        await _service(store).verify(VIEWER, {"format": "nope"})


async def _chain_more(store: Store, first: int, last: int) -> None:
    for n in range(first, last + 1):
        await _service(store).record(entry(ORG, n))


async def test_the_worker_logs_signed_checkpoints(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    await _chain(store, 2)
    rounds: list[float] = []

    async def sleep(seconds: float) -> None:
        rounds.append(seconds)
        if len(rounds) > 1:
            raise asyncio.CancelledError  # one round is enough

    async def org_ids() -> list[str]:
        return [ORG, "org_without_evidence"]

    evidence = EvidenceService(
        store.evidence, KEY, chunks=store.evidence_chunks, check_ids=lambda: CHECKS, sleep=sleep
    )
    with (
        caplog.at_level(logging.INFO, logger="services.evidence.service"),
        pytest.raises(asyncio.CancelledError),
    ):
        await evidence.log_checkpoints(org_ids, 3600)
    logged = [r.getMessage() for r in caplog.records if "evidence checkpoint" in r.getMessage()]
    assert len(logged) == 1 and rounds == [3600, 3600]
    point = json.loads(logged[0].removeprefix("evidence checkpoint "))
    assert (await _service(store).verify(VIEWER, point)).valid


async def test_verify_evidence_chain_takes_a_checkpoint_over_graphql() -> None:
    query = """query($c: JSON) { verifyEvidenceChain(checkpoint: $c) {
      valid firstBrokenLink { problem sequence recordId } } }"""
    async with live_server() as live:
        org, created = await live.container.services.organizations.create_organization("Acme")
        evidence = live.container.services.evidence
        for n in range(2):
            await evidence.record(entry(org.id, n, check_id=CHECKS[0]))
        point = await evidence.checkpoint(org.id)
        assert point is not None
        headers = {"Authorization": f"Bearer {created.secret}"}
        async with httpx.AsyncClient(timeout=30) as http:

            async def verify(checkpoint: object) -> dict[str, object]:
                body = {"query": query, "variables": {"c": checkpoint}}
                resp = await http.post(live.graphql_url, json=body, headers=headers)
                return resp.json()  # type: ignore[no-any-return]

            ok = await verify(point)
            forged = await verify({**point, "sequence": 1})
            junk = await verify("not a checkpoint")
    assert ok["data"] == {"verifyEvidenceChain": {"valid": True, "firstBrokenLink": None}}
    status = forged["data"]["verifyEvidenceChain"]  # type: ignore[index]
    assert status["firstBrokenLink"]["problem"] == "HEAD_MISMATCH"
    assert "not a Vigil evidence checkpoint" in junk["errors"][0]["message"]  # type: ignore[index]
