"""Evidence collection: append-only. There is no update or delete method, on purpose.

``evidence`` holds sealed records; a unique index on (organization, sequence) makes
concurrent appends at the same position fail instead of forking the chain.
``evidence_heads`` remembers the highest sequence each organization reached, so that
verification notices records deleted from the end of the chain.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import suppress
from typing import Any

from pymongo.errors import DuplicateKeyError

from services.evidence.models import AlreadyRecorded, ChainHead, EvidenceRecord, SequenceTaken
from services.store.common import find_one_as, to_doc

BATCH = 500


class EvidenceRepository:
    """Persistence of evidence records (``evidence``) and chain heads (``evidence_heads``)."""

    def __init__(self, db: Any) -> None:
        self._col = db["evidence"]
        self._heads = db["evidence_heads"]

    async def ensure_indexes(self) -> None:
        """Create the indexes this repository relies on."""
        await self._col.create_index([("organization_id", 1), ("sequence", 1)], unique=True)
        await self._col.create_index([("organization_id", 1), ("check_id", 1), ("sequence", 1)])
        await self._col.create_index([("organization_id", 1), ("snapshot_id", 1)])

    async def append(self, record: EvidenceRecord) -> None:
        """Insert a sealed record; ``SequenceTaken`` if its sequence is already used,
        ``AlreadyRecorded`` if its id is (a record id derived from a unique key: ``_id`` is
        unique, so the store itself refuses a second record of the same key)."""
        try:
            await self._col.insert_one(evidence_document(record))
        except DuplicateKeyError as exc:
            pattern = (exc.details or {}).get("keyPattern") or {}
            if "_id" in pattern or await self._col.find_one({"_id": record.id}, {"_id": 1}):
                raise AlreadyRecorded(record.id) from None
            raise SequenceTaken(f"sequence {record.sequence} is taken") from None

    async def last(self, *, organization_id: str) -> EvidenceRecord | None:
        """The record with the highest sequence of the organization."""
        cursor = self._col.find({"organization_id": organization_id})
        docs = await cursor.sort("sequence", -1).limit(1).to_list(1)
        return to_record(docs[0]) if docs else None

    async def get(self, *, organization_id: str, record_id: str) -> EvidenceRecord | None:
        """One record of the organization."""
        return await find_one_as(
            self._col, {"_id": record_id, "organization_id": organization_id}, to_record
        )

    async def list_for_check(
        self, *, organization_id: str, check_id: str, limit: int, before: int | None
    ) -> list[EvidenceRecord]:
        """Up to ``limit`` records of a check, newest first, below sequence ``before``."""
        query: dict[str, Any] = {"organization_id": organization_id, "check_id": check_id}
        if before is not None:
            query["sequence"] = {"$lt": before}
        cursor = self._col.find(query).sort("sequence", -1).limit(limit)
        return [to_record(d) async for d in cursor]

    async def count_for_check(self, *, organization_id: str, check_id: str) -> int:
        """How many records a check has."""
        query = {"organization_id": organization_id, "check_id": check_id}
        return int(await self._col.count_documents(query))

    async def iter_chain(self, *, organization_id: str) -> AsyncIterator[EvidenceRecord]:
        """Every record of the organization by sequence (a cursor: constant memory)."""
        cursor = self._col.find({"organization_id": organization_id}, batch_size=BATCH)
        async for doc in cursor.sort("sequence", 1):
            yield to_record(doc)

    async def iter_for_check(
        self, *, organization_id: str, check_id: str
    ) -> AsyncIterator[EvidenceRecord]:
        """Every record of a check by sequence (a cursor: constant memory)."""
        query = {"organization_id": organization_id, "check_id": check_id}
        cursor = self._col.find(query, batch_size=BATCH)
        async for doc in cursor.sort("sequence", 1):
            yield to_record(doc)

    async def sequences(self, *, organization_id: str, record_ids: Sequence[str]) -> dict[str, int]:
        """The stored sequence of each of ``record_ids`` found in the organization."""
        query = {"_id": {"$in": list(record_ids)}, "organization_id": organization_id}
        cursor = self._col.find(query, {"sequence": 1})
        return {
            str(d["_id"]): d["sequence"] async for d in cursor if isinstance(d.get("sequence"), int)
        }

    async def at(self, *, organization_id: str, sequence: int) -> EvidenceRecord | None:
        """The record stored at ``sequence`` of the organization's chain."""
        return await find_one_as(
            self._col, {"organization_id": organization_id, "sequence": sequence}, to_record
        )

    async def iter_range(
        self, *, organization_id: str, first: int, last: int
    ) -> AsyncIterator[EvidenceRecord]:
        """The records from sequence ``first`` to ``last`` (inclusive), in order (a cursor)."""
        query = {"organization_id": organization_id, "sequence": {"$gte": first, "$lte": last}}
        cursor = self._col.find(query, batch_size=BATCH)
        async for doc in cursor.sort("sequence", 1):
            yield to_record(doc)

    async def snapshot_ids(self, *, organization_id: str) -> set[str]:
        """Snapshots some record of the organization was computed over."""
        values = await self._col.distinct("snapshot_id", {"organization_id": organization_id})
        return {v for v in values if isinstance(v, str)}

    async def head(self, *, organization_id: str) -> ChainHead | None:
        """The highest sequence the organization's chain reached, if it has one."""
        doc = await self._heads.find_one({"_id": organization_id})
        if doc is None:
            return None
        sequence = doc.get("sequence")
        return ChainHead(
            sequence=sequence if isinstance(sequence, int) else -1,
            sha256=str(doc.get("sha256", "")),
            hmac=str(doc.get("hmac", "")),
        )

    async def advance_head(
        self, *, organization_id: str, sequence: int, sha256: str, hmac: str
    ) -> None:
        """Move the sealed head forward to ``sequence`` (never backwards)."""
        fields = {"sequence": sequence, "sha256": sha256, "hmac": hmac}
        result = await self._heads.update_one(
            {"_id": organization_id, "sequence": {"$lt": sequence}}, {"$set": fields}
        )
        if result.matched_count:
            return
        with suppress(DuplicateKeyError):  # a head exists at or beyond this sequence
            await self._heads.insert_one({"_id": organization_id, **fields})


def evidence_document(record: EvidenceRecord) -> dict[str, Any]:
    """The stored form of a sealed record (also used by tests and the benchmark to bulk-load)."""
    return to_doc(record)


def to_record(doc: Mapping[str, Any]) -> EvidenceRecord:
    """The domain object; tolerant of tampered documents so verification can report them."""
    sequence = doc.get("sequence")
    return EvidenceRecord(
        id=str(doc.get("_id")),
        organization_id=str(doc.get("organization_id", "")),
        sequence=sequence if isinstance(sequence, int) else -1,
        check_id=str(doc.get("check_id", "")),
        body=str(doc.get("body", "")),
        sha256=str(doc.get("sha256", "")),
        hmac=str(doc.get("hmac", "")),
        key_id=str(doc.get("key_id", "")),
        snapshot_id=doc.get("snapshot_id"),
        integration_id=doc.get("integration_id"),
    )


__all__ = ["EvidenceRepository", "evidence_document", "to_record"]
