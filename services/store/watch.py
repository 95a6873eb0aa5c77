"""The change watch's lease, state and position (ADR 020).

``change_watch`` holds one document per watched integration: the lease (``owner``, ``token``
+1 at every acquisition, ``expires_at``) that lets exactly one process poll the integration's
events, and what that process last recorded (polls, events, refreshes, what it ignored and
why, the action names it read, the last comparison of a full sync with the targeted runs).
Every write of the holder is conditional on its token, so one whose lease was taken over
records nothing more.

The position in the events stream — the *committed* cursor — is not here: it lives on the
integration document (``watch``), written by the same single write that makes a snapshot
current (``LeaseRepository.commit_snapshot``), so the events a refresh applies are consumed
exactly when its snapshot becomes current. The holder moves it itself only past events that
need no refresh (``advance``), fenced by ``watch_fence`` (the highest token announced).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from services.store.common import find_one_as, from_doc, renew_lease, take_lease
from services.store.sync_runs import to_watch, watch_doc
from services.sync.models import WatchMark
from services.watch.models import ActionKind, Comparison, WatchReason, WatchState


class WatchRepository:
    """Leases and state of the change watch; its committed position on integrations."""

    def __init__(self, db: Any) -> None:
        self._col = db["change_watch"]
        self._integrations = db["integrations"]

    async def ensure_indexes(self) -> None:
        """States are read per organization; ``_id`` is the integration id."""
        await self._col.create_index("organization_id")

    async def acquire(
        self,
        *,
        integration_id: str,
        organization_id: str,
        owner: str,
        ttl: timedelta,
        now: datetime,
    ) -> int | None:
        """Take the integration's watch lease if it is free or expired; its token, or None
        while another process holds it."""
        doc = await take_lease(
            self._col,
            integration_id,
            owner=owner,
            ttl=ttl,
            now=now,
            also={"organization_id": organization_id},
        )
        if doc is None:
            return None
        token = int(doc["token"])
        await self._integrations.update_one(
            {"_id": integration_id}, {"$max": {"watch_fence": token}}
        )
        return token

    async def renew(
        self, *, integration_id: str, token: int, ttl: timedelta, now: datetime
    ) -> bool:
        """Extend the lease; False when ``token`` no longer holds it."""
        return await renew_lease(self._col, integration_id, token=token, ttl=ttl, now=now)

    async def release(self, *, integration_id: str, token: int) -> None:
        """Give the lease back (no-op if it was taken over meanwhile)."""
        await self._col.update_one(
            {"_id": integration_id, "token": token},
            {"$set": {"owner": None, "expires_at": None}},
        )

    async def record(
        self,
        *,
        integration_id: str,
        token: int,
        fields: Mapping[str, Any] | None = None,
        increments: Mapping[str, int] | None = None,
    ) -> bool:
        """Record state as the lease holder; False when ``token`` no longer holds it."""
        update: dict[str, Any] = {}
        if fields:
            update["$set"] = {k: _encode(v) for k, v in fields.items()}
        if increments:
            update["$inc"] = dict(increments)
        if not update:
            return True
        result = await self._col.update_one({"_id": integration_id, "token": token}, update)
        return bool(result.matched_count)

    async def mark_off(
        self, *, integration_id: str, organization_id: str, reason: WatchReason, message: str
    ) -> None:
        """Record that nobody watches the integration and why (its watcher stopped)."""
        await self._col.update_one(
            {"_id": integration_id},
            {
                "$set": {
                    "organization_id": organization_id,
                    "watching": False,
                    "reason": reason.value,
                    "message": message,
                }
            },
            upsert=True,
        )

    async def get(self, *, integration_id: str) -> WatchState | None:
        """What was last recorded for the integration."""
        return await find_one_as(self._col, {"_id": integration_id}, _to_state)

    async def committed(self, *, integration_id: str) -> WatchMark | None:
        """The committed position: where the events not yet applied begin."""
        doc = await self._integrations.find_one({"_id": integration_id}, {"watch": 1})
        return to_watch(doc.get("watch")) if doc else None

    async def advance(self, *, integration_id: str, token: int, mark: WatchMark) -> bool:
        """Move the committed position past events that need no refresh; False when a
        newer holder has announced itself (fenced)."""
        result = await self._integrations.update_one(
            {"_id": integration_id, "watch_fence": token},
            {"$set": {"watch": watch_doc(mark)}},
        )
        return bool(result.matched_count)


def _encode(value: Any) -> Any:
    if isinstance(value, Comparison):
        return {**asdict(value), "unexplained": list(value.unexplained)}
    if isinstance(value, WatchReason | ActionKind):
        return value.value
    if isinstance(value, Mapping):  # action names may hold dots: stored as pairs
        return [[str(k), _encode(v)] for k, v in value.items()]
    return value


def _to_comparison(raw: Any) -> Comparison | None:
    if not isinstance(raw, Mapping):
        return None
    return Comparison(
        at=raw["at"],
        full_snapshot_id=raw["full_snapshot_id"],
        targeted_snapshot_id=raw["targeted_snapshot_id"],
        differences=int(raw.get("differences", 0)),
        unexplained=tuple(raw.get("unexplained") or ()),
    )


def _to_state(doc: Mapping[str, Any]) -> WatchState:
    reason = doc.get("reason")
    actions = dict(doc.get("actions") or [])
    return from_doc(
        WatchState,
        doc,
        integration_id=doc["_id"],
        organization_id=doc.get("organization_id", ""),
        watching=bool(doc.get("watching")),
        reason=WatchReason(str(reason)) if reason in WatchReason.__members__ else None,
        lease_expires_at=doc.get("expires_at"),
        events_seen=int(doc.get("events_seen", 0)),
        refreshes=int(doc.get("refreshes", 0)),
        ignored={str(k): int(v) for k, v in (doc.get("ignored") or {}).items()},
        actions={str(k): ActionKind(v) for k, v in actions.items() if v in ActionKind.__members__},
        comparison=_to_comparison(doc.get("comparison")),
    )


__all__ = ["WatchRepository"]
