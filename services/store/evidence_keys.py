"""Evidence signing keys (``evidence_signing_keys``): per organization one current key
(``_id`` ``<org>:current``) and the retired ones (``<org>:<key id>``), kept for their
public halves. The private half is only ever stored encrypted (``services.crypto``)."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from services.evidence.signing import PublicKey, StoredSigningKey
from services.store.common import find_one_as


class EvidenceKeyRepository:
    """Persistence of the organizations' evidence signing keys."""

    def __init__(self, db: Any) -> None:
        self._col = db["evidence_signing_keys"]

    async def ensure_indexes(self) -> None:
        """Create the indexes this repository relies on."""
        await self._col.create_index([("organization_id", 1)])

    async def current(self, *, organization_id: str) -> StoredSigningKey | None:
        """The organization's current key, if it has one."""
        return await find_one_as(self._col, {"_id": f"{organization_id}:current"}, _to_key)

    async def create_current(self, key: StoredSigningKey) -> StoredSigningKey:
        """Store ``key`` as current unless one exists; the current key either way."""
        doc = await self._col.find_one_and_update(
            {"_id": f"{key.organization_id}:current"},
            {"$setOnInsert": _doc(key)},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return _to_key(doc)

    async def rotate(self, *, organization_id: str, old_key_id: str, new: StoredSigningKey) -> bool:
        """Retire the current key ``old_key_id`` (kept under its id) and make ``new``
        current; False when the current key is no longer ``old_key_id``."""
        current = await self._col.find_one({"_id": f"{organization_id}:current"})
        if current is None or current.get("key_id") != old_key_id:
            return False
        retired = {**current, "_id": f"{organization_id}:{old_key_id}"}
        retired["retired_at"] = new.public.created_at
        # A rotation that stopped half-way has already kept the retired copy.
        with suppress(DuplicateKeyError):
            await self._col.insert_one(retired)
        result = await self._col.replace_one(
            {"_id": f"{organization_id}:current", "key_id": old_key_id}, _doc(new)
        )
        return bool(result.matched_count)

    async def public_keys(self, *, organization_id: str) -> list[PublicKey]:
        """Every key of the organization (current and retired), public halves only."""
        cursor = self._col.find({"organization_id": organization_id}, {"envelope": 0})
        return [_public(d) async for d in cursor]


def _doc(key: StoredSigningKey) -> dict[str, Any]:
    return {
        "organization_id": key.organization_id,
        "key_id": key.public.key_id,
        "public_pem": key.public.pem,
        "created_at": key.public.created_at,
        "retired_at": key.public.retired_at,
        "envelope": dict(key.envelope),
    }


def _aware(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _public(doc: Mapping[str, Any]) -> PublicKey:
    return PublicKey(
        key_id=str(doc["key_id"]),
        pem=str(doc["public_pem"]),
        created_at=_aware(doc.get("created_at")) or datetime.min.replace(tzinfo=UTC),
        retired_at=_aware(doc.get("retired_at")),
    )


def _to_key(doc: Mapping[str, Any]) -> StoredSigningKey:
    return StoredSigningKey(str(doc["organization_id"]), _public(doc), dict(doc["envelope"]))


__all__ = ["EvidenceKeyRepository"]
