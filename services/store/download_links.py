"""Evidence download links that were used: by their token's hash, until they expire."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.store.common import insert_new


class DownloadLinkRepository:
    """The used download links (``download_links`` collection)."""

    def __init__(self, db: Any) -> None:
        self._col = db["download_links"]

    async def ensure_indexes(self) -> None:
        """Found by ``_id`` (the token's hash); purged after expiry by a TTL index on real
        MongoDB (an expired link is refused by its own expiry first)."""
        await self._col.create_index("expires_at", expireAfterSeconds=3600)

    async def use(self, *, token_hash: str, expires_at: datetime) -> bool:
        """Record the first use of a link; False when it was used already (of two concurrent
        uses, one records it)."""
        return await insert_new(self._col, {"_id": token_hash, "expires_at": expires_at})


__all__ = ["DownloadLinkRepository"]
