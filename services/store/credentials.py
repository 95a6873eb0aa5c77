"""Credentials collection: encrypted envelopes only, versioned for compare-and-swap.

One document per integration: ``{_id: integration_id, organization_id, version, versions:
{label: n}, secrets: {label: envelope}, refresh_lock: {owner, until} | None}``. ``version``
increases on every write; ``versions[label]`` only when that label is written, and it is what
a compare-and-swap compares: concurrent refreshers of the OAuth tokens (in any process) detect
that someone else already won, while writing the admin key (another label) does not make a
token refresh lose its swap. A record written before label versions existed counts as 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from services.integrations.models import CredentialRecord
from services.store.common import find_one_as, utcnow


class CredentialRepository:
    """Persistence of encrypted credentials."""

    def __init__(self, db: Any) -> None:
        self._col = db["credentials"]

    async def ensure_indexes(self) -> None:
        """Create the indexes this repository relies on."""
        await self._col.create_index("organization_id")

    async def put(
        self,
        *,
        organization_id: str,
        integration_id: str,
        envelopes: Mapping[str, Mapping[str, Any]],
    ) -> CredentialRecord:
        """Create or replace one or more labelled envelopes (bumps the version)."""
        fields = {f"secrets.{label}": dict(env) for label, env in envelopes.items()}
        bumps = {f"versions.{label}": 1 for label in envelopes}
        doc = await self._col.find_one_and_update(
            {"_id": integration_id},
            {
                "$set": {**fields, "organization_id": organization_id, "updated_at": utcnow()},
                "$inc": {"version": 1, **bumps},
            },
            upsert=True,
            return_document=True,
        )
        return _to_record(doc)

    async def get(self, *, integration_id: str) -> CredentialRecord | None:
        """The integration's credential record, or None."""
        return await find_one_as(self._col, {"_id": integration_id}, _to_record)

    async def swap(
        self,
        *,
        integration_id: str,
        label: str,
        envelope: Mapping[str, Any],
        expect_version: int,
    ) -> CredentialRecord | None:
        """Replace one envelope only if its label's version is still ``expect_version``."""
        key = f"versions.{label}"
        current: dict[str, Any] = {key: expect_version}
        if expect_version == 0:  # written before label versions existed
            current = {"$or": [{key: 0}, {key: {"$exists": False}}]}
        doc = await self._col.find_one_and_update(
            {"_id": integration_id, **current},
            {
                "$set": {f"secrets.{label}": dict(envelope), "updated_at": utcnow()},
                "$inc": {"version": 1, key: 1},
            },
            return_document=True,
        )
        return _to_record(doc) if doc else None

    async def acquire_refresh_lock(
        self, *, integration_id: str, owner: str, now: datetime, until: datetime
    ) -> bool:
        """Take the integration's refresh lock if it is free or expired."""
        doc = await self._col.find_one_and_update(
            {
                "_id": integration_id,
                "$or": [{"refresh_lock": None}, {"refresh_lock.until": {"$lt": now}}],
            },
            {"$set": {"refresh_lock": {"owner": owner, "until": until}}},
        )
        return doc is not None

    async def release_refresh_lock(self, *, integration_id: str, owner: str) -> None:
        """Give the refresh lock back (only if still ours)."""
        await self._col.update_one(
            {"_id": integration_id, "refresh_lock.owner": owner}, {"$set": {"refresh_lock": None}}
        )

    async def delete(self, *, integration_id: str) -> None:
        """Remove every secret of the integration."""
        await self._col.delete_one({"_id": integration_id})

    async def remove_label(self, *, integration_id: str, label: str) -> None:
        """Remove one labelled secret."""
        await self._col.update_one(
            {"_id": integration_id},
            {"$unset": {f"secrets.{label}": ""}, "$inc": {"version": 1, f"versions.{label}": 1}},
        )


def _to_record(doc: Mapping[str, Any]) -> CredentialRecord:
    return CredentialRecord(
        integration_id=doc["_id"],
        organization_id=doc["organization_id"],
        version=int(doc.get("version", 0)),
        envelopes=dict(doc.get("secrets") or {}),
        versions={str(k): int(v) for k, v in (doc.get("versions") or {}).items()},
    )
