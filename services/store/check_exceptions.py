"""Check exceptions (``check_exceptions``): created, revoked, never deleted (an audit trail)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument

from services.check_exceptions.models import CheckException, ExceptionFilter
from services.store.common import find_one_as, from_doc


class CheckExceptionRepository:
    """Persistence of check exceptions."""

    def __init__(self, db: Any) -> None:
        self._col = db["check_exceptions"]

    async def ensure_indexes(self) -> None:
        """Create the indexes this repository relies on."""
        await self._col.create_index([("organization_id", 1), ("revoked_at", 1), ("expires_at", 1)])
        await self._col.create_index([("organization_id", 1), ("check_id", 1), ("_id", -1)])

    async def create(self, exception: CheckException) -> None:
        """Record a new exception."""
        await self._col.insert_one(
            {
                "_id": exception.id,
                "organization_id": exception.organization_id,
                "check_id": exception.check_id,
                "resource_id": exception.resource_id,
                "reason": exception.reason,
                "expires_at": exception.expires_at,
                "created_at": exception.created_at,
                "created_by": exception.created_by,
                "revoked_at": exception.revoked_at,
                "revoked_by": exception.revoked_by,
            }
        )

    async def get(self, *, organization_id: str, exception_id: str) -> CheckException | None:
        """One exception of the organization."""
        return await find_one_as(
            self._col, {"_id": exception_id, "organization_id": organization_id}, _to_exception
        )

    async def revoke(
        self, *, organization_id: str, exception_id: str, by: str, at: datetime
    ) -> CheckException | None:
        """Revoke an unrevoked exception (None if there is none with that id)."""
        doc = await self._col.find_one_and_update(
            {"_id": exception_id, "organization_id": organization_id, "revoked_at": None},
            {"$set": {"revoked_at": at, "revoked_by": by}},
            return_document=ReturnDocument.AFTER,
        )
        return _to_exception(doc) if doc else None

    async def active(
        self, *, organization_id: str, now: datetime, check_id: str | None = None
    ) -> list[CheckException]:
        """Unrevoked, unexpired exceptions (of one check, or of all)."""
        query = _query(ExceptionFilter(organization_id, check_id, now))
        return [_to_exception(d) async for d in self._col.find(query)]

    async def list(
        self, which: ExceptionFilter, *, limit: int, before: str | None
    ) -> list[CheckException]:
        """Newest first; only those active at ``which.active_at`` when it is given."""
        query = _query(which)
        if before is not None:
            query["_id"] = {"$lt": before}
        cursor = self._col.find(query).sort("_id", -1).limit(limit)
        return [_to_exception(d) async for d in cursor]

    async def count(self, which: ExceptionFilter) -> int:
        """How many ``list`` would return in all."""
        return int(await self._col.count_documents(_query(which)))


def _query(which: ExceptionFilter) -> dict[str, Any]:
    query: dict[str, Any] = {"organization_id": which.organization_id}
    if which.check_id is not None:
        query["check_id"] = which.check_id
    if which.active_at is not None:
        query.update({"revoked_at": None, "expires_at": {"$gt": which.active_at}})
    return query


def _to_exception(doc: Mapping[str, Any]) -> CheckException:
    return from_doc(CheckException, doc)


__all__ = ["CheckExceptionRepository"]
