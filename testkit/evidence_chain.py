"""Long evidence chains written straight into a store, faster than appending one by one
(the benchmarks that measure exports and audit bundles over many records)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from services.evidence.chain import GENESIS_HASH, EvidenceKey, seal
from services.evidence.models import ChunkedList, EvidenceEntry, EvidenceRecord
from services.store import Store
from services.store.evidence import evidence_document


class ChainWriter:
    """What appends leave behind, in bulk: the chunks of each list once, the records sealed in
    one chain (from sequence 1) and inserted ``batch`` at a time, and at ``finish`` the chain
    head. For an organization without evidence yet."""

    def __init__(
        self, store: Store, organization_id: str, key: EvidenceKey, *, batch: int = 2000
    ) -> None:
        self.store = store
        self.organization_id = organization_id
        self.key = key
        self.batch = batch
        self.sequence = 0
        self.prev = GENESIS_HASH
        self._documents: list[dict[str, Any]] = []
        self._stored: set[str] = set()

    async def put_lists(self, lists: Iterable[ChunkedList]) -> None:
        """Store the chunks of ``lists`` not stored yet (before the records that refer to them,
        as EvidenceService does)."""
        fresh = {b.sha256: b for c in lists for b in c.blobs() if b.sha256 not in self._stored}
        if fresh:
            await self.store.evidence_chunks.put(self.organization_id, list(fresh.values()))
            self._stored.update(fresh)

    async def append(
        self, entry: EvidenceEntry, *, record_id: str, recorded_at: datetime
    ) -> EvidenceRecord:
        """Seal ``entry`` as the next record of the chain."""
        self.sequence += 1
        record = seal(
            entry,
            record_id=record_id,
            sequence=self.sequence,
            prev_hash=self.prev,
            recorded_at=recorded_at,
            key=self.key,
        )
        self.prev = record.sha256
        self._documents.append(evidence_document(record))
        if len(self._documents) >= self.batch:
            await self._flush()
        return record

    async def finish(self) -> None:
        """Insert what is left and move the chain head to the last record."""
        await self._flush()
        await self.store.evidence.advance_head(
            organization_id=self.organization_id,
            sequence=self.sequence,
            sha256=self.prev,
            hmac=self.key.sign_head(self.organization_id, self.sequence, self.prev),
        )

    async def _flush(self) -> None:
        if self._documents:
            await self.store._db["evidence"].insert_many(self._documents)
            self._documents = []
