"""People collection: one document per person, ``_id`` derived from org + lower-cased email."""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from pymongo import UpdateOne

from services.people.models import (
    Person,
    PersonFilter,
    PersonKey,
    PersonRecord,
    PersonSort,
    PersonSortField,
    PersonStatus,
    person_id,
)
from services.store.common import find_one_as, keyset_page, utcnow
from services.store.revisioned import RevisionedRepository
from services.store.revisions import RevisionRepository

REVISION = "people"


class PeopleRepository(RevisionedRepository[Person]):
    """Persistence of people; every read is scoped to an organization."""

    def __init__(self, db: Any, revisions: RevisionRepository) -> None:
        super().__init__(db, revisions, collection="people", revision=REVISION, to=to_person)

    async def ensure_indexes(self) -> None:
        """Listing by email or update time, filtering by status, incremental reads by ``seq``."""
        await self._col.create_index([("organization_id", 1), ("email_key", 1)])
        await self._col.create_index([("organization_id", 1), ("status", 1), ("email_key", 1)])
        await self._col.create_index([("organization_id", 1), ("seq", 1)])
        await self._col.create_index([("organization_id", 1), ("updated_at", 1), ("email_key", 1)])

    async def get(self, *, organization_id: str, person_id: str) -> Person | None:
        """One person of the organization."""
        return await find_one_as(
            self._col, {"_id": person_id, "organization_id": organization_id}, to_person
        )

    async def list_people(
        self,
        *,
        organization_id: str,
        filter: PersonFilter,
        limit: int,
        after: PersonKey | None,
        sort: PersonSort | None = None,
    ) -> tuple[list[Person], int]:
        """Up to ``limit`` people in ``sort`` order after ``after``; and the filtered total."""
        sort = sort or PersonSort()
        query = _query(organization_id, filter)
        total = int(await self._col.count_documents(query))
        if sort.field is PersonSortField.EMAIL:
            beyond = "$lt" if sort.descending else "$gt"
            if after is not None:
                query = {**query, "email_key": {beyond: after.email_key}}  # a range of the index
            direction = -1 if sort.descending else 1
            cursor = self._col.find(query).sort("email_key", direction).limit(limit)
            return [to_person(d) async for d in cursor], total
        docs = await keyset_page(
            self._col,
            query,
            (sort.field.value, "email_key"),
            None if after is None else (after.value, after.email_key),
            limit=limit,
            descending=sort.descending,
        )
        return [to_person(d) for d in docs], total

    async def write(
        self,
        *,
        organization_id: str,
        records: Sequence[PersonRecord],
        existing: Mapping[str, Person],
    ) -> list[tuple[int, Person]]:
        """Store ``records`` (``existing``: stored people by id); returns them with their seq."""
        if not records:
            return []
        async with self._reserved(organization_id, len(records)) as first:
            return await self._write(organization_id, records, existing, first)

    async def _write(
        self,
        organization_id: str,
        records: Sequence[PersonRecord],
        existing: Mapping[str, Person],
        first: int,
    ) -> list[tuple[int, Person]]:
        now = utcnow()
        ops: list[UpdateOne] = []
        people: list[tuple[int, Person]] = []
        for seq, record in enumerate(records, start=first):
            pid = person_id(organization_id, record.email)
            before = existing.get(pid)
            fields = _fields(record) | {"seq": seq, "updated_at": now}
            insert_only = {
                "organization_id": organization_id,
                "created_at": before.created_at if before else now,
            }
            update = {"$set": fields, "$setOnInsert": insert_only}
            ops.append(UpdateOne({"_id": pid}, update, upsert=True))
            people.append((seq, to_person({"_id": pid, **insert_only, **fields})))
        for start in range(0, len(ops), 1000):
            await self._col.bulk_write(ops[start : start + 1000], ordered=False)
        return people


def _fields(record: PersonRecord) -> dict[str, Any]:
    return {
        "email": record.email,
        "email_key": record.email_key,
        "name": record.name,
        "status": record.status.value,
        "job_role": record.job_role,
        "start_date": record.start_date.isoformat() if record.start_date else None,
        "offboarded_at": record.offboarded_at,
    }


def _query(organization_id: str, f: PersonFilter) -> dict[str, Any]:
    query: dict[str, Any] = {"organization_id": organization_id}
    if f.status is not None:
        query["status"] = f.status.value
    if f.job_role is not None:
        query["job_role"] = {"$regex": f"^{re.escape(f.job_role)}$", "$options": "i"}
    if f.search:
        text = {"$regex": re.escape(f.search), "$options": "i"}
        query["$or"] = [{"email_key": text}, {"name": text}]
    return query


_STATUSES = {s.value: s for s in PersonStatus}  # a dict's lookup: read for every person


def to_person(doc: Mapping[str, Any]) -> Person:
    """The domain object for a stored person."""
    start, status = doc.get("start_date"), doc["status"]
    offboarded: datetime | None = doc.get("offboarded_at")
    return Person(
        id=doc["_id"],
        # one string for the organization's people (and one per job role), not one copy each
        organization_id=sys.intern(doc["organization_id"]),
        email=doc["email"],
        name=doc.get("name"),
        status=_STATUSES.get(status) or PersonStatus(status),
        job_role=sys.intern(role) if (role := doc.get("job_role")) else role,
        start_date=date.fromisoformat(start) if start else None,
        offboarded_at=offboarded,
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
    )


__all__ = ["PeopleRepository", "to_person"]
