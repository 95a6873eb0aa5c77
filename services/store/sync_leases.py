"""Sync leases and the fenced snapshot pointer.

``sync_leases`` holds one document per integration: ``owner``, ``token`` (fencing token, +1
at every acquisition), ``expires_at``, ``heartbeat_at`` and the ``run_id`` being run. A lease
is acquired by an upsert that only matches a free or expired lease; when it is held the
upsert collides on ``_id`` and the caller learns it lost.

The integration document carries ``sync_fence``, the highest token any lease holder has
announced. Making a snapshot current is one conditional write on that document which only
matches while ``sync_fence`` still equals the writer's token — a stale holder whose lease
was taken over (the new holder announced a higher token) is rejected.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from services.integrations.models import IntegrationStatus
from services.store.common import from_doc, renew_lease, take_lease
from services.store.sync_runs import watch_doc
from services.sync.models import Lease, SnapshotCommit

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class LeaseRepository:
    """Persistence of sync leases (``sync_leases``) and of the integration's fence."""

    def __init__(self, db: Any) -> None:
        self._col = db["sync_leases"]
        self._integrations = db["integrations"]

    async def ensure_indexes(self) -> None:
        """Leases are keyed by integration id (``_id``); expiry is scanned by the scheduler."""
        await self._col.create_index("expires_at")

    async def acquire(
        self, *, integration_id: str, owner: str, ttl: timedelta, now: datetime
    ) -> Lease | None:
        """Take the lease if it is free or expired (token + 1); None while someone holds it."""
        doc = await take_lease(
            self._col,
            integration_id,
            owner=owner,
            ttl=ttl,
            now=now,
            also={"heartbeat_at": now, "run_id": None},
        )
        return _to_lease(doc) if doc else None

    async def renew(
        self, *, integration_id: str, token: int, ttl: timedelta, now: datetime
    ) -> bool:
        """Heartbeat: extend the lease; False when ``token`` no longer holds it."""
        return await renew_lease(
            self._col, integration_id, token=token, ttl=ttl, now=now, also={"heartbeat_at": now}
        )

    async def set_run(self, *, integration_id: str, token: int, run_id: str) -> bool:
        """Record which run the holder of ``token`` is running."""
        result = await self._col.update_one(
            {"_id": integration_id, "token": token}, {"$set": {"run_id": run_id}}
        )
        return bool(result.matched_count)

    async def release(self, *, integration_id: str, token: int) -> None:
        """Give the lease back (no-op if it was taken over meanwhile)."""
        await self._col.update_one(
            {"_id": integration_id, "token": token},
            {"$set": {"owner": None, "expires_at": _EPOCH, "run_id": None}},
        )

    async def get(self, *, integration_id: str) -> Lease | None:
        """The current lease document, held or not."""
        doc = await self._col.find_one({"_id": integration_id})
        return _to_lease(doc) if doc and doc.get("owner") else None

    async def disconnected(self, *, integration_id: str) -> bool:
        """True when the integration is DISCONNECTED or gone: a run of it must stop."""
        doc = await self._integrations.find_one({"_id": integration_id}, {"status": 1})
        return doc is None or doc.get("status") == IntegrationStatus.DISCONNECTED.value

    async def announce_fence(self, *, integration_id: str, token: int) -> None:
        """Raise the integration's fence to ``token`` (older holders can no longer commit)."""
        await self._integrations.update_one(
            {"_id": integration_id}, {"$max": {"sync_fence": token}}
        )

    async def commit_snapshot(self, commit: SnapshotCommit) -> bool:
        """Make ``commit.snapshot_id`` current in one write; False if fenced out or not
        CONNECTED.

        With ``watch`` the change watch's position moves in the same write (the events a run
        applies are consumed exactly when its snapshot becomes current: ADR 020). A targeted
        run (``full`` False) leaves ``last_sync_at`` and ``current_snapshot_at``, the time of
        the last full read, where they are."""
        at = commit.snapshot_at
        fields: dict[str, object] = {"current_snapshot_id": commit.snapshot_id, "updated_at": at}
        if commit.full:
            fields.update(current_snapshot_at=at, last_sync_at=at)
        if commit.watch is not None:
            fields["watch"] = {**watch_doc(commit.watch), "committed_at": at}
        result = await self._integrations.update_one(
            {
                "_id": commit.integration_id,
                "sync_fence": commit.token,
                "status": IntegrationStatus.CONNECTED.value,
            },
            {"$set": fields},
        )
        return bool(result.matched_count)


def _to_lease(doc: Mapping[str, Any]) -> Lease:
    return from_doc(Lease, doc, integration_id=doc["_id"], token=int(doc["token"]))


__all__ = ["LeaseRepository"]
