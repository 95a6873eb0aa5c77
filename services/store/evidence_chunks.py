"""Evidence chunks: content-addressed blobs of an organization (ADR 011). Append-only.

``evidence_chunks`` holds ``{_id: "<organization>:<sha256>", organization_id, sha256,
text}``: the manifests and chunks of the lists that format-2 evidence records refer to.
A blob's address is the hash of its text, so storing one that exists already is a no-op:
an unchanged population is never written twice. Like ``evidence``, there is no method to
change or remove a blob.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.evidence.models import Blob
from services.store.common import insert_missing


class EvidenceChunkRepository:
    """Persistence of evidence blobs (``services.evidence.chunks.ChunkStore``)."""

    def __init__(self, db: Any) -> None:
        self._col = db["evidence_chunks"]

    async def ensure_indexes(self) -> None:
        """Blobs are read by ``_id`` only."""

    async def put(self, organization_id: str, blobs: Sequence[Blob]) -> int:
        """Store the blobs not stored yet; how many were written."""
        unique = {b.sha256: b for b in blobs}
        if not unique:
            return 0
        ids = {_key(organization_id, h): b for h, b in unique.items()}
        cursor = self._col.find({"_id": {"$in": list(ids)}}, {"_id": 1})
        present = {d["_id"] async for d in cursor}
        docs = [
            {"_id": key, "organization_id": organization_id, "sha256": b.sha256, "text": b.text}
            for key, b in ids.items()
            if key not in present
        ]
        await insert_missing(self._col, docs)  # a concurrent writer may store one first
        return len(docs)

    async def get(self, organization_id: str, addresses: Sequence[str]) -> dict[str, str]:
        """The texts of the blobs found, by address (the hash the caller asked for)."""
        if not addresses:
            return {}
        keys = [_key(organization_id, a) for a in addresses]
        found: dict[str, str] = {}
        async for doc in self._col.find({"_id": {"$in": keys}}):
            if doc.get("organization_id") == organization_id:
                address = str(doc["_id"])[len(organization_id) + 1 :]
                found[address] = str(doc.get("text", ""))
        return found


def _key(organization_id: str, address: str) -> str:
    return f"{organization_id}:{address}"


__all__ = ["EvidenceChunkRepository"]
