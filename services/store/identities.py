"""Account identities: one document per (organization, account), kept across snapshots.

Clearing an identity writes an UNIDENTIFIED tombstone rather than deleting, so incremental
readers (``seq > r``) see the change.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from pymongo import UpdateOne

from services.identity.models import (
    Classification,
    Identity,
    IdentityMethod,
    NotStaffKind,
    ResolutionMark,
)
from services.store.common import find_one_as, insert_missing
from services.store.revisioned import RevisionedRepository
from services.store.revisions import RevisionRepository

REVISION = "identities"


class IdentityRepository(RevisionedRepository[Identity]):
    """Persistence of account identities (``account_identities`` collection)."""

    def __init__(self, db: Any, revisions: RevisionRepository) -> None:
        super().__init__(
            db, revisions, collection="account_identities", revision=REVISION, to=to_identity
        )
        self._marks = db["identity_resolution_marks"]

    async def ensure_indexes(self) -> None:
        """Incremental reads by ``seq``; identities of a person."""
        await self._col.create_index([("organization_id", 1), ("seq", 1)])
        await self._col.create_index([("organization_id", 1), ("person_id", 1)])

    async def get(self, *, organization_id: str, account_id: str) -> Identity | None:
        """The stored identity of an account, if any."""
        return await find_one_as(self._col, {"_id": _key(organization_id, account_id)}, to_identity)

    async def write_manual(self, *, organization_id: str, identity: Identity) -> int:
        """Store a person's decision (or a cleared tombstone); returns its seq."""
        async with self._reserved(organization_id) as seq:
            await self._col.update_one(
                {"_id": _key(organization_id, identity.account_id)},
                {"$set": _doc(organization_id, identity, seq)},
                upsert=True,
            )
        return seq

    async def resolution_mark(self, *, organization_id: str) -> ResolutionMark | None:
        """How far automatic resolution is known complete (``mark_resolved``), if recorded."""
        doc = await self._marks.find_one({"_id": organization_id})
        if doc is None:
            return None
        return ResolutionMark(snapshot_id=doc["snapshot_id"], people_seq=int(doc["people_seq"]))

    async def mark_resolved(self, *, organization_id: str, mark: ResolutionMark) -> None:
        """Record that the snapshot's accounts are resolved against every person written at
        or below ``people_seq``: of one snapshot the furthest mark wins; another snapshot's
        mark replaces it (a stale one only costs the next resolution a whole pass)."""
        result = await self._marks.update_one(
            {"_id": organization_id, "snapshot_id": mark.snapshot_id},
            {"$max": {"people_seq": mark.people_seq}},
        )
        if result.matched_count == 0:
            doc = {"snapshot_id": mark.snapshot_id, "people_seq": mark.people_seq}
            await self._marks.replace_one({"_id": organization_id}, doc, upsert=True)

    async def write_automatic(
        self, *, organization_id: str, identities: Sequence[Identity], stored: Collection[str]
    ) -> int:
        """Store automatic identities, never over a MANUAL one; returns the first seq used.

        ``stored`` holds the account ids that already have a document: the others are
        inserted (a concurrent insert wins), the rest updated unless now MANUAL.
        """
        if not identities:
            return 0
        async with self._reserved(organization_id, len(identities)) as first:
            await self._write_automatic(organization_id, identities, stored, first)
        return first

    async def _write_automatic(
        self,
        organization_id: str,
        identities: Sequence[Identity],
        stored: Collection[str],
        first: int,
    ) -> None:
        inserts, updates = [], []
        for seq, identity in enumerate(identities, start=first):
            doc = _doc(organization_id, identity, seq)
            key = _key(organization_id, identity.account_id)
            if identity.account_id in stored:
                manual = IdentityMethod.MANUAL.value
                updates.append(UpdateOne({"_id": key, "method": {"$ne": manual}}, {"$set": doc}))
            else:
                inserts.append({"_id": key, **doc})
        for start in range(0, len(inserts), 1000):
            await insert_missing(self._col, inserts[start : start + 1000])
        for start in range(0, len(updates), 1000):
            await self._col.bulk_write(updates[start : start + 1000], ordered=False)


def _key(organization_id: str, account_id: str) -> str:
    return f"{organization_id}:{account_id}"


def _doc(organization_id: str, identity: Identity, seq: int) -> dict[str, Any]:
    return {
        "organization_id": organization_id,
        "account_id": identity.account_id,
        "classification": identity.classification.value,
        "person_id": identity.person_id,
        "kind": identity.kind.value if identity.kind else None,
        "reason": identity.reason,
        "method": identity.method.value if identity.method else None,
        "decided_by": identity.decided_by,
        "decided_at": identity.decided_at,
        "seq": seq,
    }


def to_identity(doc: Mapping[str, Any]) -> Identity:
    """The domain object for a stored identity."""
    kind, method = doc.get("kind"), doc.get("method")
    classification = doc["classification"]
    return Identity(
        account_id=doc["account_id"],
        # a dict's lookup, not the enum's call: a million identities are read at a cold start
        classification=_CLASSIFICATIONS.get(classification) or Classification(classification),
        person_id=doc.get("person_id"),
        kind=NotStaffKind(kind) if kind else None,
        reason=doc.get("reason"),
        method=(_METHODS.get(method) or IdentityMethod(method)) if method else None,
        decided_by=doc.get("decided_by"),
        decided_at=doc.get("decided_at"),
    )


_CLASSIFICATIONS = {c.value: c for c in Classification}
_METHODS = {m.value: m for m in IdentityMethod}

__all__ = ["IdentityRepository", "to_identity"]
