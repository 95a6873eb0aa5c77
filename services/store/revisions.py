"""Per-organization revision counters of mutable collections (people, identities).

Every write to such a collection reserves fresh sequence numbers here and stamps them on
the documents it writes (``seq``), so a reader holding data up to revision ``r`` can fetch
only what changed since (``seq > r``) and can tell from one small read that nothing did.

Reserving and writing are two steps, so a reservation also registers the writer in
``writers`` until its documents are written (``release``). A reader that sees a writer at
work does not move its revision forward: the reserved documents may not be visible yet.
A writer that crashed is ignored after ``ABANDONED``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pymongo import ReturnDocument

from services.models import RevisionState
from services.store.common import utcnow

ABANDONED = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class Reservation:
    """Sequence numbers ``first..last`` reserved by one writer (``token``)."""

    first: int
    last: int
    token: str


class RevisionRepository:
    """The ``revisions`` collection: one counter per organization and collection name."""

    def __init__(self, db: Any) -> None:
        self._col = db["revisions"]

    async def ensure_indexes(self) -> None:
        """Counters are looked up by ``_id`` only."""

    async def reserve(self, *, organization_id: str, name: str, count: int = 1) -> Reservation:
        """Reserve ``count`` numbers and register as a writer until ``release``."""
        token = secrets.token_hex(8)
        doc = await self._col.find_one_and_update(
            {"_id": f"{organization_id}:{name}"},
            {"$inc": {"value": count}, "$push": {"writers": {"token": token, "at": utcnow()}}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        last = int(doc["value"])
        return Reservation(last - count + 1, last, token)

    async def release(self, *, organization_id: str, name: str, token: str) -> None:
        """The writer's documents are written (also drops writers that were abandoned)."""
        key = {"_id": f"{organization_id}:{name}"}
        await self._col.update_one(key, {"$pull": {"writers": {"token": token}}})
        cutoff = utcnow() - ABANDONED
        await self._col.update_one(key, {"$pull": {"writers": {"at": {"$lt": cutoff}}}})

    async def state(self, *, organization_id: str, name: str) -> RevisionState:
        """The counter and whether a (not abandoned) writer is at work."""
        doc = await self._col.find_one({"_id": f"{organization_id}:{name}"})
        if doc is None:
            return RevisionState(0, False)
        cutoff = utcnow() - ABANDONED
        writing = any(w["at"] >= cutoff for w in doc.get("writers", []))
        return RevisionState(int(doc["value"]), writing)


__all__ = ["Reservation", "RevisionRepository", "RevisionState"]
