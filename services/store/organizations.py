"""Organizations collection."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from services.errors import NotFound
from services.models import Framework, Organization
from services.store.common import find_one_as, insert_new, new_id, utcnow

# The first organization's id: one insert wins when several processes start on an empty
# database at once (each would otherwise see none and create its own).
FIRST_ID = "org_first"


class OrganizationRepository:
    """Persistence of organizations (``organizations`` collection)."""

    def __init__(self, db: Any) -> None:
        self._col = db["organizations"]

    async def ensure_indexes(self) -> None:
        """Create the indexes this repository relies on."""
        await self._col.create_index("name")

    async def create(self, *, name: str) -> Organization:
        """Insert a new organization."""
        doc = {"_id": new_id("org"), "name": name, "created_at": utcnow(), "frameworks": []}
        await self._col.insert_one(doc)
        return _to_org(doc)

    async def create_first(self, *, name: str) -> Organization | None:
        """Insert the first organization unless one exists; None when another process (or an
        earlier start) created it."""
        if await self._col.find_one({}, {"_id": 1}) is not None:
            return None
        doc = {"_id": FIRST_ID, "name": name, "created_at": utcnow(), "frameworks": []}
        if not await insert_new(self._col, doc):
            return None
        return _to_org(doc)

    async def get(self, *, organization_id: str) -> Organization | None:
        """The organization with this id, or None."""
        return await find_one_as(self._col, {"_id": organization_id}, _to_org)

    async def get_or_raise(self, *, organization_id: str) -> Organization:
        """The organization with this id, or ``NotFound``."""
        org = await self.get(organization_id=organization_id)
        if org is None:
            raise NotFound(f"organization {organization_id} not found")
        return org

    async def count(self) -> int:
        """How many organizations exist."""
        return int(await self._col.count_documents({}))

    async def list_ids(self) -> list[str]:
        """Every organization's id (the periodic check evaluation's view)."""
        return [d["_id"] async for d in self._col.find({}, {"_id": 1})]

    async def update_frameworks(
        self, *, organization_id: str, frameworks: Sequence[Framework]
    ) -> Organization:
        """Replace the organization's active frameworks."""
        values = [f.value for f in frameworks]
        result = await self._col.update_one(
            {"_id": organization_id}, {"$set": {"frameworks": values}}
        )
        if result.matched_count == 0:
            raise NotFound(f"organization {organization_id} not found")
        return await self.get_or_raise(organization_id=organization_id)


def _to_org(doc: Mapping[str, Any]) -> Organization:
    return Organization(
        id=doc["_id"],
        name=doc["name"],
        created_at=doc["created_at"],
        frameworks=tuple(Framework(f) for f in doc.get("frameworks", [])),
    )
