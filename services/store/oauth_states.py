"""OAuth ``state`` values: stored hashed, single use, short-lived."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from services.integrations.models import OAuthState
from services.store.common import unique, utcnow


class OAuthStateRepository:
    """Persistence of pending OAuth authorizations (``oauth_states`` collection)."""

    def __init__(self, db: Any) -> None:
        self._col = db["oauth_states"]

    async def ensure_indexes(self) -> None:
        """Unique hashes; expired states are purged by a TTL index on real MongoDB."""
        await self._col.create_index("state_hash", unique=True)
        await self._col.create_index("expires_at", expireAfterSeconds=3600)

    async def create(self, *, state_hash: str, bound_to: OAuthState) -> None:
        """Record a new state value's hash and what it is ``bound_to`` (what ``consume`` gives
        back); ``AlreadyExists`` if it is taken."""
        with unique("this OAuth state value exists"):
            await self._col.insert_one(
                {
                    "state_hash": state_hash,
                    "organization_id": bound_to.organization_id,
                    "integration_id": bound_to.integration_id,
                    "expires_at": bound_to.expires_at,
                    "used_at": None,
                    "created_at": utcnow(),
                    "upgrade": bound_to.upgrade,
                }
            )

    async def consume(self, *, state_hash: str, now: datetime) -> OAuthState | None:
        """Mark the state used and return it, unless unknown, used or expired."""
        doc = await self._col.find_one_and_update(
            {"state_hash": state_hash, "used_at": None, "expires_at": {"$gt": now}},
            {"$set": {"used_at": now}},
        )
        return _to_state(doc) if doc else None


def _to_state(doc: Mapping[str, Any]) -> OAuthState:
    return OAuthState(
        organization_id=doc["organization_id"],
        integration_id=doc["integration_id"],
        expires_at=doc["expires_at"],
        upgrade=bool(doc.get("upgrade")),
    )
