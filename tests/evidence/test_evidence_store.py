"""Evidence on both stores: appends, concurrency, tampering found at the right record."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from services.errors import NotFound, ValidationFailed
from services.evidence.chain import EvidenceKey, sha256_hex
from services.evidence.models import EvidenceRecord
from services.evidence.service import EvidenceService
from services.evidence.verify import LinkProblem
from services.models import Principal, Role
from services.store import Store
from services.store.evidence import EvidenceRepository
from services.store.evidence_chunks import EvidenceChunkRepository
from tests.evidence.support import CHECKS, bulk_load, entry, prepared_chain, raw, service

ORG = "org_a"
VIEWER = Principal(organization_id=ORG, role=Role.VIEWER, api_key_id="key_1")


async def _chain(store: Store, count: int) -> list[EvidenceRecord]:
    evidence = service(store)
    return [await evidence.record(entry(ORG, n, snapshot=f"snap_{n % 3}")) for n in range(count)]


async def drain(chunks: Any) -> bytes:
    return b"".join([c async for c in chunks])


async def test_appends_form_a_verifiable_chain(store: Store) -> None:
    records = await _chain(store, 5)
    assert [r.sequence for r in records] == [1, 2, 3, 4, 5]
    assert [json.loads(r.body)["prevHash"] for r in records[1:]] == [r.sha256 for r in records[:-1]]
    status = await service(store).verify(VIEWER)
    assert status.valid and status.checked_count == 5 and status.head_sequence == 5
    other = Principal(organization_id="org_b", role=Role.ADMIN, api_key_id="key_2")
    assert (await service(store).verify(other)).checked_count == 0
    assert await service(store).get(other, records[0].id) is None
    assert await store.evidence.snapshot_ids(organization_id=ORG) == {"snap_0", "snap_1", "snap_2"}


async def test_concurrent_appenders_never_fork_the_chain(store: Store) -> None:
    # Two services = two processes: separate in-process locks, one shared unique index.
    first, second = service(store), service(store)
    writers = [(first if n % 2 else second).record(entry(ORG, n)) for n in range(16)]
    records = await asyncio.gather(*writers)
    assert sorted(r.sequence for r in records) == list(range(1, 17))
    assert (await first.verify(VIEWER)).valid


class _StaleTail(EvidenceRepository):
    """Answers ``last`` from before another process appended, once."""

    def __init__(self, db: Any) -> None:
        super().__init__(db)
        self.stale = True

    async def last(self, *, organization_id: str) -> EvidenceRecord | None:
        if self.stale:
            self.stale = False
            return None
        return await super().last(organization_id=organization_id)


async def test_a_lost_race_rereads_the_tail_and_retries(store: Store) -> None:
    await _chain(store, 1)
    repo = _StaleTail(store._db)
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    evidence = EvidenceService(
        repo,
        service(store).key,
        chunks=store.evidence_chunks,
        check_ids=lambda: CHECKS,
        sleep=sleep,
    )
    record = await evidence.record(entry(ORG, 7))
    assert record.sequence == 2 and len(waits) == 1
    assert (await evidence.verify(VIEWER)).valid


def test_the_repository_has_no_way_to_change_or_remove_evidence() -> None:
    verbs = ("update", "delete", "replace", "remove", "drop", "set_", "purge")
    for repository in (EvidenceRepository, EvidenceChunkRepository):
        names = [n for n in dir(repository) if not n.startswith("__")]
        assert not [n for n in names if n.startswith(verbs)], names
    assert not [n for n in dir(EvidenceService) if n.startswith(verbs)]


async def _swap_sequences(col: Any, a: dict[str, Any], b: dict[str, Any]) -> None:
    await col.update_one({"_id": a["_id"]}, {"$set": {"sequence": -99}})
    await col.update_one({"_id": b["_id"]}, {"$set": {"sequence": a["sequence"]}})
    await col.update_one({"_id": a["_id"]}, {"$set": {"sequence": b["sequence"]}})


async def _rewrite_and_rehash(col: Any, doc: dict[str, Any]) -> None:
    body = doc["body"].replace('"FAILING"', '"PASSING"').replace('"pages"', '"pagez"')
    await col.update_one({"_id": doc["_id"]}, {"$set": {"body": body, "sha256": sha256_hex(body)}})


async def _resign_with_another_key(col: Any, doc: dict[str, Any]) -> None:
    body = doc["body"].replace('"pages"', '"pagez"')
    digest = sha256_hex(body)
    mallory = EvidenceKey(b"m" * 32)
    await col.update_one(
        {"_id": doc["_id"]},
        {"$set": {"body": body, "sha256": digest, "hmac": mallory.sign(digest)}},
    )


Tamper = Callable[[Any, list[dict[str, Any]]], Awaitable[None]]

TAMPERING: dict[str, tuple[Tamper, LinkProblem, int, bool]] = {
    # name: (what is done to the 8-record chain, problem, sequence reported, record id known)
    "edit a field inside the body": (
        lambda col, d: col.update_one(
            {"_id": d[3]["_id"]}, {"$set": {"body": d[3]["body"].replace('"pages"', '"pagez"')}}
        ),
        LinkProblem.HASH_MISMATCH,
        4,
        True,
    ),
    "edit the body and recompute its sha256": (
        lambda col, d: _rewrite_and_rehash(col, d[5]),
        LinkProblem.HMAC_MISMATCH,
        6,
        True,
    ),
    "edit and re-sign with another key": (
        lambda col, d: _resign_with_another_key(col, d[0]),
        LinkProblem.HMAC_MISMATCH,
        1,
        True,
    ),
    "delete a record in the middle": (
        lambda col, d: col.delete_one({"_id": d[4]["_id"]}),
        LinkProblem.SEQUENCE_GAP,
        5,
        False,  # the missing record's id: the next (intact) record is not named
    ),
    "edit the stored key id": (
        lambda col, d: col.update_one({"_id": d[2]["_id"]}, {"$set": {"key_id": "0" * 16}}),
        LinkProblem.FIELD_MISMATCH,
        3,
        True,
    ),
    "edit the stored integration id": (
        lambda col, d: col.update_one(
            {"_id": d[5]["_id"]}, {"$set": {"integration_id": "int_other"}}
        ),
        LinkProblem.FIELD_MISMATCH,
        6,
        True,
    ),
    "delete the newest record": (
        lambda col, d: col.delete_one({"_id": d[7]["_id"]}),
        LinkProblem.SEQUENCE_GAP,
        8,
        False,
    ),
    "reorder two records": (
        lambda col, d: _swap_sequences(col, d[2], d[3]),
        LinkProblem.SEQUENCE_REORDER,
        3,
        True,
    ),
    "move a record to another check": (
        lambda col, d: col.update_one({"_id": d[6]["_id"]}, {"$set": {"check_id": "x"}}),
        LinkProblem.FIELD_MISMATCH,
        7,
        True,
    ),
    "replace a body by another record's": (
        lambda col, d: col.update_one(
            {"_id": d[1]["_id"]},
            {"$set": {k: d[2][k] for k in ("body", "sha256", "hmac")}},
        ),
        LinkProblem.SEQUENCE_REORDER,
        2,
        True,
    ),
}


@pytest.mark.parametrize("case", list(TAMPERING))
async def test_tampering_in_the_database_is_reported_at_the_right_record(
    store: Store, case: str
) -> None:
    await _chain(store, 8)
    col = raw(store)
    docs = await col.find({"organization_id": ORG}).sort("sequence", 1).to_list(None)
    tamper, problem, sequence, has_id = TAMPERING[case]
    await tamper(col, docs)
    status = await service(store).verify(VIEWER)
    assert not status.valid and status.broken is not None
    assert status.broken.problem is problem, status.broken
    assert status.broken.sequence == sequence, status.broken
    assert (status.broken.record_id is not None) is has_id
    assert status.checked_count == sequence - 1


async def test_a_long_valid_chain_verifies_quickly(store: Store) -> None:
    count = 10_000 if store.embedded else 1_000  # the wire server proves correctness
    await bulk_load(store, prepared_chain(ORG, count))
    started = time.perf_counter()
    status = await service(store).verify(VIEWER)
    elapsed = time.perf_counter() - started
    assert status.valid and status.checked_count == count, status
    assert elapsed < 20, f"verifying {count} records took {elapsed:.1f}s"


async def test_evidence_pages_newest_first_per_check(store: Store) -> None:
    await _chain(store, 7)  # checks alternate: CHECKS[0] gets n = 0, 2, 4, 6
    evidence = service(store)
    first = await evidence.page(VIEWER, CHECKS[0], 3, None)
    assert first.total_count == 4 and first.has_next_page
    assert [r.sequence for _, r in first.items] == [7, 5, 3]
    rest = await evidence.page(VIEWER, CHECKS[0], 3, first.end_cursor)
    assert [r.sequence for _, r in rest.items] == [1] and not rest.has_next_page
    with pytest.raises(NotFound):
        await evidence.page(VIEWER, "no-such-check", None, None)
    with pytest.raises(ValidationFailed):
        await evidence.page(VIEWER, CHECKS[0], None, "!!!")


async def test_exports_in_json_and_csv(store: Store) -> None:
    records = await _chain(store, 6)
    evidence = service(store)
    export = await evidence.open_export(VIEWER, CHECKS[1], "csv")
    rows = list(csv.DictReader(io.StringIO((await drain(export.chunks)).decode())))
    assert [int(r["sequence"]) for r in rows] == [2, 4, 6]
    assert rows[0]["status"] == "FAILING" and rows[0]["failingItems"] == "1"
    assert rows[0]["record"] == records[1].body and rows[0]["snapshotId"] == "snap_1"
    export = await evidence.open_export(VIEWER, CHECKS[1], "JSON")
    document = json.loads(await drain(export.chunks))
    assert document["checkId"] == CHECKS[1] and document["chainHead"]["sequence"] == 6
    embedded = document["records"][0]
    reencoded = json.dumps(
        embedded["record"], sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    assert sha256_hex(reencoded) == embedded["sha256"] == records[1].sha256
    with pytest.raises(ValidationFailed):
        await evidence.open_export(VIEWER, CHECKS[1], "xml")
    with pytest.raises(NotFound):
        await evidence.open_export(VIEWER, "no-such-check", "csv")
