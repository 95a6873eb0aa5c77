"""API keys collection: only hashes of key values are stored."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from services.models import ApiKey, NewApiKey, Role
from services.store.common import find_one_as, from_doc, new_id, to_doc, unique, utcnow


class ApiKeyRepository:
    """Persistence of API keys (``api_keys`` collection)."""

    def __init__(self, db: Any) -> None:
        self._col = db["api_keys"]

    async def ensure_indexes(self) -> None:
        """Create the indexes this repository relies on."""
        await self._col.create_index("secret_hash", unique=True)
        await self._col.create_index("organization_id")

    async def create(self, key: NewApiKey) -> ApiKey:
        """Insert a key record holding the hash of its value; ``AlreadyExists`` if it is taken."""
        doc = {
            "_id": new_id("key"),
            **to_doc(key, role=key.role.value),
            "created_at": utcnow(),
            "revoked_at": None,
            "last_used_at": None,
        }
        with unique("an API key with this value exists"):
            await self._col.insert_one(doc)
        return _to_key(doc)

    async def get(self, *, key_id: str) -> ApiKey | None:
        """The key with this id (any organization), or None."""
        return await find_one_as(self._col, {"_id": key_id}, _to_key)

    async def get_by_secret_hash(self, *, secret_hash: str) -> ApiKey | None:
        """The key whose value hashes to ``secret_hash``, or None."""
        return await find_one_as(self._col, {"secret_hash": secret_hash}, _to_key)

    async def list_by_organization(self, *, organization_id: str) -> list[ApiKey]:
        """Every key of an organization, oldest first."""
        cursor = self._col.find({"organization_id": organization_id}).sort("created_at", 1)
        return [_to_key(doc) async for doc in cursor]

    async def revoke(self, *, key_id: str, organization_id: str | None = None) -> ApiKey | None:
        """Mark a key revoked (idempotent); scoped to ``organization_id`` when given."""
        query: dict[str, Any] = {"_id": key_id}
        if organization_id is not None:
            query["organization_id"] = organization_id
        await self._col.update_one(
            {**query, "revoked_at": None}, {"$set": {"revoked_at": utcnow()}}
        )
        return await find_one_as(self._col, query, _to_key)

    async def list_owned(self, *, organization_id: str, owner_user_id: str) -> list[ApiKey]:
        """The keys of an organization owned by a person."""
        query = {"organization_id": organization_id, "owner_user_id": owner_user_id}
        return [_to_key(doc) async for doc in self._col.find(query).sort("created_at", 1)]

    async def touch(self, *, key_id: str, at: datetime) -> None:
        """Record when a key was last used."""
        await self._col.update_one({"_id": key_id}, {"$set": {"last_used_at": at}})


def _to_key(doc: Mapping[str, Any]) -> ApiKey:
    return from_doc(ApiKey, doc, role=Role(doc["role"]))
