"""Integrations collection (secrets live in ``credentials``, never here)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime
from typing import Any

from services.integrations.models import (
    ACTIVE_STATUSES,
    DEFAULT_ADMIN_GROUPS,
    AuthMethod,
    ConfluenceSite,
    Integration,
    IntegrationStatus,
    Purpose,
)
from services.store.common import find_one_as, new_id, unique, unique_while, utcnow


class IntegrationRepository:
    """Persistence of integrations; every read is scoped to an organization."""

    def __init__(self, db: Any) -> None:
        self._col = db["integrations"]

    async def ensure_indexes(self) -> None:
        """One live integration per purpose per organization (enforced by a unique index)."""
        await self._col.create_index("organization_id")
        await unique_while(self._col, ["organization_id", "purpose"], "live")

    async def create(
        self,
        *,
        organization_id: str,
        purpose: Purpose,
        auth_method: AuthMethod,
        status: IntegrationStatus,
        sync_interval_minutes: int,
        **fields: Any,
    ) -> Integration:
        """Insert an integration; ``AlreadyExists`` if the purpose is taken."""
        now = utcnow()
        doc: dict[str, Any] = {
            "_id": new_id("int"),
            "organization_id": organization_id,
            "purpose": purpose.value,
            "auth_method": auth_method.value,
            "status": status.value,
            "live": status in ACTIVE_STATUSES,
            "created_at": now,
            "updated_at": now,
            "sync_interval_minutes": sync_interval_minutes,
        }
        doc.update(_encode_fields(fields))
        with unique("the organization has a live integration for this purpose"):
            await self._col.insert_one(doc)
        return _to_integration(doc)

    async def get(self, *, organization_id: str, integration_id: str) -> Integration | None:
        """The integration, if it belongs to the organization."""
        return await find_one_as(
            self._col, {"_id": integration_id, "organization_id": organization_id}, _to_integration
        )

    async def get_by_id(self, *, integration_id: str) -> Integration | None:
        """The integration by id alone (internal callers: OAuth callback, workers)."""
        return await find_one_as(self._col, {"_id": integration_id}, _to_integration)

    async def get_live_for_purpose(
        self, *, organization_id: str, purpose: Purpose
    ) -> Integration | None:
        """The organization's live (not disconnected/errored) integration for a purpose."""
        return await find_one_as(
            self._col,
            {"organization_id": organization_id, "purpose": purpose.value, "live": True},
            _to_integration,
        )

    async def list_by_organization(self, *, organization_id: str) -> list[Integration]:
        """Every integration of an organization, newest first."""
        cursor = self._col.find({"organization_id": organization_id}).sort("created_at", -1)
        return [_to_integration(d) async for d in cursor]

    async def list_connected(self) -> list[Integration]:
        """Every CONNECTED integration of every organization (the scheduler's view)."""
        cursor = self._col.find({"status": IntegrationStatus.CONNECTED.value})
        return [_to_integration(d) async for d in cursor]

    async def update(
        self,
        *,
        integration_id: str,
        expect_status: IntegrationStatus | None = None,
        **fields: Any,
    ) -> Integration | None:
        """Set fields (and ``live`` from ``status``); None if missing or status differs."""
        query: dict[str, Any] = {"_id": integration_id}
        if expect_status is not None:
            query["status"] = expect_status.value
        update = _encode_fields(fields)
        if "status" in update:
            update["live"] = IntegrationStatus(update["status"]) in ACTIVE_STATUSES
        update["updated_at"] = utcnow()
        doc = await self._col.find_one_and_update(query, {"$set": update}, return_document=True)
        return _to_integration(doc) if doc else None

    async def delete(self, *, integration_id: str) -> None:
        """Remove an integration record (only for ones that never connected)."""
        await self._col.delete_one({"_id": integration_id})


def _encode_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if isinstance(value, ConfluenceSite):
            out[key] = asdict(value)
        elif key == "available_sites":
            out[key] = [asdict(s) for s in value]
        elif isinstance(value, tuple):
            out[key] = list(value)
        elif hasattr(value, "value") and not isinstance(value, datetime):
            out[key] = value.value
        else:
            out[key] = value
    return out


def _site(raw: Mapping[str, Any] | None) -> ConfluenceSite | None:
    if not raw:
        return None
    return ConfluenceSite(url=raw["url"], cloud_id=raw.get("cloud_id"), name=raw.get("name"))


def _to_integration(doc: Mapping[str, Any]) -> Integration:
    optional = {
        k: doc[k]
        for k in (
            "status_message",
            "connected_at",
            "connected_by",
            "connected_as",
            "last_sync_at",
            "current_snapshot_id",
            "current_snapshot_at",
            "admin_org_id",
            "cql",
        )
        if doc.get(k) is not None
    }
    return Integration(
        id=doc["_id"],
        organization_id=doc["organization_id"],
        purpose=Purpose(doc["purpose"]),
        auth_method=AuthMethod(doc["auth_method"]),
        status=IntegrationStatus(doc["status"]),
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
        site=_site(doc.get("site")),
        available_sites=tuple(s for s in map(_site, doc.get("available_sites", [])) if s),
        granted_scopes=tuple(doc.get("granted_scopes", [])),
        sync_interval_minutes=doc.get("sync_interval_minutes", 360),
        has_admin_key=bool(doc.get("has_admin_key", False)),
        admin_groups=tuple(doc.get("admin_groups") or DEFAULT_ADMIN_GROUPS),
        **optional,
    )
