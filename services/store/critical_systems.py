"""Critical systems collection: at most one per system kind per organization."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pymongo import ReturnDocument

from services.reviews.models import AccessRule, CriticalSystem, SystemKind, SystemSettings
from services.store.common import find_one_as, new_id, unique, utcnow


class CriticalSystemRepository:
    """Persistence of critical systems; every read is scoped to an organization."""

    def __init__(self, db: Any) -> None:
        self._col = db["critical_systems"]

    async def ensure_indexes(self) -> None:
        """One system of a kind per organization (unique index)."""
        await self._col.create_index([("organization_id", 1), ("system", 1)], unique=True)

    async def create(
        self,
        *,
        organization_id: str,
        system: SystemKind,
        integration_id: str | None,
        settings: SystemSettings,
    ) -> CriticalSystem:
        """Insert a system; ``AlreadyExists`` if the organization already has it."""
        now = utcnow()
        doc = {
            "_id": new_id("sys"),
            "organization_id": organization_id,
            "system": system.value,
            "integration_id": integration_id,
            **_settings_doc(settings),
            "added_at": now,
            "updated_at": now,
        }
        with unique("the organization already has this critical system"):
            await self._col.insert_one(doc)
        return to_system(doc)

    async def get(self, *, organization_id: str, system_id: str) -> CriticalSystem | None:
        """One system of the organization."""
        return await find_one_as(
            self._col, {"_id": system_id, "organization_id": organization_id}, to_system
        )

    async def get_by_kind(
        self, *, organization_id: str, system: SystemKind
    ) -> CriticalSystem | None:
        """The organization's system of a kind, if added."""
        return await find_one_as(
            self._col, {"organization_id": organization_id, "system": system.value}, to_system
        )

    async def list_by_organization(self, *, organization_id: str) -> list[CriticalSystem]:
        """Every critical system of the organization, oldest first."""
        cursor = self._col.find({"organization_id": organization_id}).sort("added_at", 1)
        return [to_system(d) async for d in cursor]

    async def update(
        self,
        *,
        organization_id: str,
        system_id: str,
        settings: SystemSettings,
    ) -> CriticalSystem | None:
        """Replace the rule and frequency; None if the system is not the organization's."""
        doc = await self._col.find_one_and_update(
            {"_id": system_id, "organization_id": organization_id},
            {"$set": {**_settings_doc(settings), "updated_at": utcnow()}},
            return_document=ReturnDocument.AFTER,
        )
        return to_system(doc) if doc else None


def _settings_doc(settings: SystemSettings) -> dict[str, Any]:
    return {
        "review_frequency_days": settings.review_frequency_days,
        "access_rule": settings.access_rule.value,
        "allowed_roles": list(settings.allowed_roles),
        "admin_roles": list(settings.admin_roles),
    }


def to_system(doc: Mapping[str, Any]) -> CriticalSystem:
    """The domain object for a stored critical system."""
    return CriticalSystem(
        id=doc["_id"],
        organization_id=doc["organization_id"],
        system=SystemKind(doc["system"]),
        integration_id=doc.get("integration_id"),
        review_frequency_days=int(doc["review_frequency_days"]),
        access_rule=AccessRule(doc["access_rule"]),
        allowed_roles=tuple(doc.get("allowed_roles", [])),
        admin_roles=tuple(doc.get("admin_roles", [])),
        added_at=doc["added_at"],
        updated_at=doc.get("updated_at", doc["added_at"]),
    )


__all__ = ["CriticalSystemRepository"]
