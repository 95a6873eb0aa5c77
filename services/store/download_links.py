"""Evidence download links: stored hashed, single use, short-lived."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.evidence.models import DownloadGrant
from services.models import Role


class DownloadLinkRepository:
    """Persistence of evidence download links (``download_links`` collection)."""

    def __init__(self, db: Any) -> None:
        self._col = db["download_links"]

    async def ensure_indexes(self) -> None:
        """Links are found by ``_id`` (the token's hash); expired ones are purged by a TTL
        index on real MongoDB (expiry itself is checked when a link is taken)."""
        await self._col.create_index("expires_at", expireAfterSeconds=3600)

    async def create(self, *, token_hash: str, grant: DownloadGrant, expires_at: datetime) -> None:
        """Record a new link under its token's hash."""
        await self._col.insert_one(
            {
                "_id": token_hash,
                "organization_id": grant.organization_id,
                "role": grant.role.value,
                "api_key_id": grant.api_key_id,
                "check_id": grant.check_id,
                "format": grant.format,
                "expires_at": expires_at,
            }
        )

    async def take(self, *, token_hash: str, now: datetime) -> DownloadGrant | None:
        """Remove the link and return what it grants, unless unknown, taken or expired (one
        atomic delete: of two concurrent takes, one gets it)."""
        doc = await self._col.find_one_and_delete({"_id": token_hash, "expires_at": {"$gt": now}})
        if doc is None:
            return None
        return DownloadGrant(
            organization_id=doc["organization_id"],
            role=Role(doc["role"]),
            api_key_id=doc["api_key_id"],
            check_id=doc["check_id"],
            format=doc["format"],
        )


__all__ = ["DownloadLinkRepository"]
