"""Every evidence record anchored: references into the chain are checked both ways, and the
worker's checkpoints sent off the database expose a rewind nobody took a checkpoint for."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.container import build_evidence
from api.settings import Settings
from services.evidence.models import EvidenceRecord
from services.evidence.service import EvidenceService
from services.evidence.verify import LinkProblem
from services.models import Principal, Role
from services.remediation.executor import evidence_entry
from services.remediation.models import (
    ActionState,
    ActionStep,
    RemediationAction,
    Verification,
)
from services.store import Store
from tests.evidence.support import entry, raw
from tests.remediation.builders import offboarding_action

ORG = "org_a"
VIEWER = Principal(organization_id=ORG, role=Role.VIEWER, api_key_id="key_1")
T0 = datetime(2026, 3, 1, tzinfo=UTC)
HMAC_KEY = base64.b64encode(b"h" * 32).decode()
SECRET_KEY = base64.b64encode(b"s" * 32).decode()


def _settings(checkpoints: Path | None = None) -> Settings:
    return Settings(
        env="development",
        evidence_hmac_key=HMAC_KEY,
        secret_key=SECRET_KEY,
        evidence_checkpoint_file=str(checkpoints) if checkpoints else None,
    )


def _evidence(store: Store, checkpoints: Path | None = None) -> EvidenceService:
    return build_evidence(_settings(checkpoints), store)


def _action(n: int) -> RemediationAction:
    return offboarding_action(f"rem_{n:04d}", ORG, "int_1", f"acc-{n}")


async def _remediate(store: Store, evidence: EvidenceService, n: int) -> EvidenceRecord:
    """An approved action carried out and verified, with its evidence record, as the
    executor leaves it."""
    await store.remediations.approve([_action(n)], approved_by="key_1", now=T0)
    claim = await store.remediations.claim(
        organization_id=ORG, owner="w", ttl=timedelta(seconds=60), now=T0
    )
    assert claim is not None
    done = await store.remediations.record(
        claim,
        ActionStep(ActionState.VERIFIED, read_back=Verification("GET members", True, "gone", T0)),
        now=T0,
    )
    assert done is not None
    record = await evidence.record(evidence_entry(done, T0))
    await store.remediations.set_evidence(claim, evidence_id=record.id)
    return record


async def _history(store: Store, evidence: EvidenceService) -> tuple[Any, list[EvidenceRecord]]:
    """Five check records, then the sealed head is saved (by an attacker), then three
    remediation records."""
    records = [await evidence.record(entry(ORG, n)) for n in range(1, 6)]
    saved_head = await store._db["evidence_heads"].find_one({"_id": ORG})
    records += [await _remediate(store, evidence, n) for n in range(6, 9)]
    return saved_head, records


async def _rewind(store: Store, saved_head: Any, *, drop_actions: bool) -> None:
    """Delete the records after #5, put the genuine old head back (and the actions)."""
    await raw(store).delete_many({"organization_id": ORG, "sequence": {"$gt": 5}})
    await store._db["evidence_heads"].replace_one({"_id": ORG}, saved_head)
    if drop_actions:
        await store._db["remediation_actions"].delete_many({"organization_id": ORG})


async def test_rewound_remediation_records_are_found_through_their_actions(store: Store) -> None:
    evidence = _evidence(store)
    saved_head, records = await _history(store, evidence)
    assert (await evidence.verify(VIEWER)).valid
    await _rewind(store, saved_head, drop_actions=False)
    status = await evidence.verify(VIEWER)
    assert status.broken is not None and status.broken.problem is LinkProblem.SEQUENCE_GAP
    assert status.broken.sequence == 6
    assert "remediation action rem_0006" in status.broken.message
    assert records[5].id in status.broken.message


async def test_a_remediation_record_whose_action_was_deleted_is_an_orphan(store: Store) -> None:
    evidence = _evidence(store)
    _, records = await _history(store, evidence)
    await store._db["remediation_actions"].delete_one({"_id": "rem_0007"})
    status = await evidence.verify(VIEWER)
    assert status.broken is not None and status.broken.problem is LinkProblem.ANCHOR_MISSING
    assert (status.broken.sequence, status.broken.record_id) == (7, records[6].id)


async def test_an_action_pointing_at_a_foreign_record_is_found(store: Store) -> None:
    evidence = _evidence(store)
    await _history(store, evidence)
    actions = store._db["remediation_actions"]
    await actions.update_one({"_id": "rem_0008"}, {"$set": {"evidence_id": "evd_forged"}})
    status = await evidence.verify(VIEWER)
    assert status.broken is not None and status.broken.problem is LinkProblem.SEQUENCE_GAP
    assert "evd_forged" in status.broken.message


async def _worker_round(evidence: EvidenceService) -> None:
    """One round of the worker's periodic checkpoints (its sleep ends the loop after it)."""
    rounds: list[float] = []

    async def sleep(seconds: float) -> None:
        rounds.append(seconds)
        if len(rounds) > 1:
            raise asyncio.CancelledError

    async def orgs() -> list[str]:
        return [ORG]

    evidence.sleep = sleep
    with pytest.raises(asyncio.CancelledError):
        await evidence.log_checkpoints(orgs, 3600)


@pytest.mark.parametrize("tail", ["remediation", "check"])
async def test_a_whole_rewind_is_found_by_the_worker_s_checkpoint_file(
    store: Store, tmp_path: Path, tail: str
) -> None:
    """Records deleted from the end, the old head put back and everything that pointed at
    the deleted records gone too (actions, or results rolled back): only a checkpoint kept
    outside the database remembers, and verification reads the worker's by itself."""
    checkpoints = tmp_path / "kept" / "checkpoints.jsonl"
    evidence = _evidence(store, checkpoints)
    if tail == "remediation":
        saved_head, _ = await _history(store, evidence)
    else:
        for n in range(1, 6):
            await evidence.record(entry(ORG, n))
        saved_head = await store._db["evidence_heads"].find_one({"_id": ORG})
        for n in range(6, 9):
            await evidence.record(entry(ORG, n))
    await _worker_round(evidence)
    kept = [json.loads(line) for line in checkpoints.read_text().splitlines()]
    assert [(p["organizationId"], p["sequence"]) for p in kept] == [(ORG, 8)]
    assert (await evidence.verify(VIEWER)).valid

    await _rewind(store, saved_head, drop_actions=True)
    # Without the kept checkpoint the rewound chain is consistent ...
    assert (await _evidence(store).verify(VIEWER)).valid
    # ... with it (read back from the configured file, nothing handed over) it is not.
    status = await _evidence(store, checkpoints).verify(VIEWER)
    assert status.broken is not None and status.broken.problem is LinkProblem.SEQUENCE_GAP
    assert (status.broken.sequence, status.broken.record_id) == (6, None)
    assert "vouches for #8" in status.broken.message


async def test_a_failing_checkpoint_sink_is_logged_and_counted(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    evidence = _evidence(store, blocked / "checkpoints.jsonl")  # a file is not a directory
    await evidence.record(entry(ORG, 1))
    await _worker_round(evidence)
    assert evidence.checkpoints_failed == 1
    assert any("sending the evidence checkpoint" in r.getMessage() for r in caplog.records)


async def test_the_worker_posts_each_checkpoint_to_the_webhook(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """2xx: delivered as JSON; any other answer is a failure, logged without the URL (it may
    carry a token) and counted."""
    received: list[dict[str, Any]] = []
    answers = iter([204, 500])

    def hook(request: httpx.Request) -> httpx.Response:
        received.append(json.loads(request.content))
        return httpx.Response(next(answers))

    url = "https://archive.example/checkpoints?token=s3cret"
    settings = _settings().model_copy(update={"evidence_checkpoint_url": url})
    async with httpx.AsyncClient(transport=httpx.MockTransport(hook)) as http:
        evidence = build_evidence(settings, store, http=http)
        await evidence.record(entry(ORG, 1))
        await _worker_round(evidence)
        assert [(p["organizationId"], p["sequence"]) for p in received] == [(ORG, 1)]
        assert received[0]["signature"]["alg"] == "Ed25519"
        assert evidence.checkpoints_failed == 0
        await _worker_round(evidence)
    assert len(received) == 2 and evidence.checkpoints_failed == 1
    failures = [r.getMessage() for r in caplog.records if "checkpoint webhook" in r.getMessage()]
    assert failures and "s3cret" not in caplog.text
