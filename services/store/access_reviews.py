"""Access reviews (``access_reviews``) and their frozen entries (``access_review_entries``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument

from services.identity.models import Classification, NotStaffKind
from services.models import AccountStatus
from services.reviews.models import (
    AccessDecision,
    AccessReview,
    Completion,
    Decision,
    NewReview,
    ReviewEntry,
    ReviewStatus,
)
from services.store.common import (
    find_one_as,
    from_doc,
    insert_new,
    new_id,
    newest_first,
    to_doc,
    unique_while,
    utcnow,
)

PENDING = AccessDecision.PENDING.value


class AccessReviewRepository:
    """Persistence of reviews and entries; reads are scoped to an organization."""

    def __init__(self, db: Any) -> None:
        self._reviews = db["access_reviews"]
        self._entries = db["access_review_entries"]

    async def ensure_indexes(self) -> None:
        """One open review per system; history per organization; entries by account."""
        await unique_while(self._reviews, ["critical_system_id"], "open")
        await self._reviews.create_index([("organization_id", 1), ("started_at", -1), ("_id", -1)])
        await self._reviews.create_index(
            [("organization_id", 1), ("critical_system_id", 1), ("completed_at", -1)]
        )
        await self._entries.create_index([("review_id", 1), ("account_id", 1)])
        await self._entries.create_index([("review_id", 1), ("decision", 1), ("account_id", 1)])

    async def create(self, review: NewReview) -> AccessReview | None:
        """Open a review with its entries; None if the system already has an open one."""
        review_id = new_id("rev")
        doc = {
            "_id": review_id,
            "organization_id": review.organization_id,
            "critical_system_id": review.critical_system_id,
            "status": ReviewStatus.OPEN.value,
            "open": True,
            "started_at": utcnow(),
            "started_by": review.started_by,
            "snapshot_id": review.snapshot_id,
            "entry_count": len(review.entries),
            "due_at": review.due_at,
        }
        if not await insert_new(self._reviews, doc):
            return None
        try:
            docs = [_entry_doc(review_id, review.organization_id, e) for e in review.entries]
            for start in range(0, len(docs), 1000):
                await self._entries.insert_many(docs[start : start + 1000], ordered=False)
        except BaseException:
            await self._entries.delete_many({"review_id": review_id})
            await self._reviews.delete_one({"_id": review_id})
            raise
        return to_review(doc)

    async def get(self, *, organization_id: str, review_id: str) -> AccessReview | None:
        """One review of the organization."""
        return await find_one_as(
            self._reviews, {"_id": review_id, "organization_id": organization_id}, to_review
        )

    async def get_open(
        self, *, organization_id: str, critical_system_id: str
    ) -> AccessReview | None:
        """The system's open review, if any."""
        return await find_one_as(
            self._reviews,
            {
                "organization_id": organization_id,
                "critical_system_id": critical_system_id,
                "open": True,
            },
            to_review,
        )

    async def latest_completed(
        self, *, organization_id: str, critical_system_id: str
    ) -> AccessReview | None:
        """The system's most recently completed review, if any."""
        cursor = self._reviews.find(
            {
                "organization_id": organization_id,
                "critical_system_id": critical_system_id,
                "status": ReviewStatus.COMPLETED.value,
            }
        ).sort("completed_at", -1)
        async for doc in cursor.limit(1):
            return to_review(doc)
        return None

    async def list_reviews(
        self, *, organization_id: str, limit: int, before: tuple[datetime, str] | None
    ) -> tuple[list[AccessReview], int]:
        """Up to ``limit`` reviews, newest first, strictly older than ``before``; and the total."""
        query: dict[str, Any] = {"organization_id": organization_id}
        total = int(await self._reviews.count_documents(query))
        docs = await newest_first(self._reviews, query, "started_at", before, limit)
        return [to_review(d) for d in docs], total

    async def list_entries(
        self, *, review_id: str, decision: AccessDecision | None, limit: int, after: str | None
    ) -> tuple[list[ReviewEntry], int]:
        """Up to ``limit`` entries by account id after ``after``; and the filtered total."""
        query: dict[str, Any] = {"review_id": review_id}
        if decision is not None:
            query["decision"] = decision.value
            total = int(await self._entries.count_documents(query))  # the decision's keys
        else:  # the entries written with the review, counted then
            review = await self._reviews.find_one({"_id": review_id}, {"entry_count": 1})
            total = int(review["entry_count"]) if review else 0
        if after is not None:
            query["account_id"] = {"$gt": after}
        cursor = self._entries.find(query).sort("account_id", 1).limit(limit)
        return [to_entry(d) async for d in cursor], total

    async def get_entry(self, *, organization_id: str, entry_id: str) -> ReviewEntry | None:
        """One entry of the organization."""
        return await find_one_as(
            self._entries, {"_id": entry_id, "organization_id": organization_id}, to_entry
        )

    async def decide(self, *, entry_id: str, decision: Decision) -> ReviewEntry | None:
        """Record a decision on an entry."""
        doc = await self._entries.find_one_and_update(
            {"_id": entry_id},
            {"$set": _decision_doc(decision)},
            return_document=ReturnDocument.AFTER,
        )
        return to_entry(doc) if doc else None

    async def count_pending(self, *, review_id: str) -> int:
        """How many entries still have no decision."""
        return int(
            await self._entries.count_documents({"review_id": review_id, "decision": PENDING})
        )

    async def complete(self, *, review_id: str, completion: Completion) -> AccessReview | None:
        """Decide the pending entries (if asked) and complete the review; None if not open."""
        remaining = completion.remaining()
        if remaining is not None:
            await self._entries.update_many(
                {"review_id": review_id, "decision": PENDING}, {"$set": _decision_doc(remaining)}
            )
        doc = await self._reviews.find_one_and_update(
            {"_id": review_id, "open": True},
            {
                "$set": {
                    "status": ReviewStatus.COMPLETED.value,
                    "completed_at": completion.completed_at,
                    "completed_by": completion.completed_by,
                },
                "$unset": {"open": ""},
            },
            return_document=ReturnDocument.AFTER,
        )
        return to_review(doc) if doc else None

    async def decisions(self, *, review_id: str) -> dict[str, AccessDecision]:
        """Every decided entry of a review: account id → decision."""
        cursor = self._entries.find(
            {"review_id": review_id, "decision": {"$ne": PENDING}},
            {"account_id": 1, "decision": 1},
        )
        return {d["account_id"]: AccessDecision(d["decision"]) async for d in cursor}


def _entry_doc(review_id: str, organization_id: str, e: ReviewEntry) -> dict[str, Any]:
    return {
        "_id": new_id("rve"),
        "review_id": review_id,
        "organization_id": organization_id,
        "account_id": e.account_id,
        "display_name": e.display_name,
        "email": e.email,
        "groups": list(e.groups),
        "is_admin": e.is_admin,
        "account_status": e.account_status.value,
        "classification": e.classification.value,
        "person_id": e.person_id,
        "kind": e.kind.value if e.kind else None,
        "decision": PENDING,
    }


def _decision_doc(d: Decision) -> dict[str, Any]:
    return to_doc(d, decision=d.decision.value)


def to_review(doc: Mapping[str, Any]) -> AccessReview:
    """The domain object for a stored review."""
    return from_doc(
        AccessReview,
        doc,
        status=ReviewStatus(doc["status"]),
        snapshot_id=doc.get("snapshot_id"),
        entry_count=int(doc.get("entry_count", 0)),
    )


def to_entry(doc: Mapping[str, Any]) -> ReviewEntry:
    """The domain object for a stored entry."""
    kind = doc.get("kind")
    return from_doc(
        ReviewEntry,
        doc,
        display_name=doc.get("display_name"),
        email=doc.get("email"),
        groups=tuple(doc.get("groups", [])),
        is_admin=bool(doc.get("is_admin")),
        account_status=AccountStatus.parse(doc.get("account_status")),
        classification=Classification(doc["classification"]),
        person_id=doc.get("person_id"),
        kind=NotStaffKind(kind) if kind else None,
        decision=AccessDecision(doc["decision"]),
    )


__all__ = ["AccessReviewRepository"]
