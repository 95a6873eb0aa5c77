"""Building evidence chains for tests: sealed records, bulk loading, raw tampering."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.evidence.chain import GENESIS_HASH, EvidenceKey, seal
from services.evidence.chunks import chunk_values
from services.evidence.models import ChainHead, EvidenceEntry, EvidenceRecord
from services.evidence.service import EvidenceService
from services.store import Store
from services.store.evidence import evidence_document

KEY = EvidenceKey(b"k" * 32)
CHECKS = ("confluence-document-setup", "confluence-policy-current")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def entry(
    org: str, n: int, *, check_id: str | None = None, snapshot: str | None = None
) -> EvidenceEntry:
    """The n-th evaluation of a made-up history (alternating checks), in today's format:
    its lists are chunked (``lists``) and the body holds their references."""
    status = "FAILING" if n % 2 else "PASSING"
    items = [{"resourceType": "policy", "resourceId": f"TYPE_{n}", "name": None, "reason": "x"}]
    pages = [{"pageId": str(n), "title": f"P{n}", "version": n}]
    population, failing, excepted, exceptions = (
        chunk_values(pages),
        chunk_values(items if n % 2 else []),
        chunk_values([]),
        chunk_values([]),
    )
    return EvidenceEntry(
        organization_id=org,
        check_id=check_id or CHECKS[n % 2],
        evaluated_at=T0 + timedelta(minutes=n),
        result={
            "status": status,
            "failingItems": failing.ref(),
            "exceptedItems": excepted.ref(),
            "exceptions": exceptions.ref(),
        },
        population={"kind": "pages", "items": population.ref()},
        snapshot_id=snapshot,
        integration_id="int_1" if snapshot else None,
        snapshot_at=T0 if snapshot else None,
        lists=(population, failing, excepted, exceptions),
    )


def prepared_chain(org: str, count: int, key: EvidenceKey = KEY) -> list[EvidenceRecord]:
    """A valid chain of ``count`` records, sealed in memory (no database round trips)."""
    records: list[EvidenceRecord] = []
    prev = GENESIS_HASH
    for n in range(1, count + 1):
        record = seal(
            entry(org, n),
            record_id=f"evd_{org}_{n:06d}",
            sequence=n,
            prev_hash=prev,
            recorded_at=T0 + timedelta(minutes=n),
            key=key,
        )
        records.append(record)
        prev = record.sha256
    return records


async def bulk_load(
    store: Store, records: list[EvidenceRecord], batch: int = 5000, key: EvidenceKey = KEY
) -> None:
    """Insert records of ``prepared_chain`` directly, with the chunks of their lists, and
    move the chain head (what appends would do)."""
    org = records[0].organization_id
    blobs = {b.sha256: b for r in records for c in entry(org, r.sequence).lists for b in c.blobs()}
    await store.evidence_chunks.put(org, list(blobs.values()))
    col = raw(store)
    if store.embedded:  # mongomock checks unique indexes by scanning: O(n²) inserts
        await col.drop_index("organization_id_1_sequence_1")
    for i in range(0, len(records), batch):
        await col.insert_many([evidence_document(r) for r in records[i : i + batch]])
    await store.evidence.ensure_indexes()
    last = records[-1]
    await store.evidence.advance_head(
        organization_id=last.organization_id,
        sequence=last.sequence,
        sha256=last.sha256,
        hmac=key.sign_head(last.organization_id, last.sequence, last.sha256),
    )


def signed_head(org: str, sequence: int, sha256: str, key: EvidenceKey = KEY) -> ChainHead:
    """A chain head sealed as the service seals it."""
    return ChainHead(sequence, sha256, key.sign_head(org, sequence, sha256))


def raw(store: Store) -> Any:
    """The evidence collection itself: what someone with database access could change."""
    return store._db["evidence"]


def service(store: Store, key: EvidenceKey = KEY, **options: Any) -> EvidenceService:
    options.setdefault("check_ids", lambda: CHECKS)
    return EvidenceService(store.evidence, key, chunks=store.evidence_chunks, **options)


def chunks_of(store: Store) -> Any:
    """The evidence chunks collection itself (what someone with database access could change)."""
    return store._db["evidence_chunks"]
