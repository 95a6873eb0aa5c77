"""Sync runs collection: one document per run; at most one active run per integration.

Every write of a running run is conditional on its status and fencing token, so a run whose
lease was taken over (and which was marked FAILED by the new holder) cannot write again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument

from services.integrations.models import Purpose
from services.store.common import (
    find_one_as,
    from_doc,
    insert_new,
    new_id,
    newest_first,
    unique_while,
    utcnow,
)
from services.sync.models import (
    RunEnd,
    RunRequest,
    RunTargets,
    SnapshotCounts,
    SyncProgress,
    SyncRun,
    SyncRunKind,
    SyncRunStatus,
    SyncTrigger,
    WatchMark,
)


class SyncRunRepository:
    """Persistence of sync runs (``sync_runs`` collection)."""

    def __init__(self, db: Any) -> None:
        self._col = db["sync_runs"]

    async def ensure_indexes(self) -> None:
        """One active run per integration; history by integration, newest first."""
        await unique_while(self._col, ["integration_id"], "active")
        # With ``_id``: the history's tie-break, so a page needs no blocking sort.
        await self._col.create_index([("integration_id", 1), ("created_at", -1), ("_id", -1)])
        await self._col.create_index("active")
        await self._col.create_index("snapshot_id")

    async def create(self, request: RunRequest) -> SyncRun | None:
        """Insert a QUEUED run; None when the integration already has an active run."""
        now = utcnow()
        run_id = new_id("run")
        doc: dict[str, Any] = {
            "_id": run_id,
            "organization_id": request.organization_id,
            "integration_id": request.integration_id,
            "purpose": request.purpose.value,
            "status": SyncRunStatus.QUEUED.value,
            "trigger": request.trigger.value,
            "snapshot_id": run_id.replace("run_", "snap_", 1),
            "created_at": now,
            "active": True,
            "progress": asdict(SyncProgress()),
            "kind": request.kind.value,
        }
        if request.targets:
            doc["targets"] = _targets_doc(request.targets)
        if request.watch is not None:
            doc["watch"] = watch_doc(request.watch)
        if not await insert_new(self._col, doc):
            return None
        return to_run(doc)

    async def get(self, *, run_id: str) -> SyncRun | None:
        """A run by id (internal callers)."""
        return await find_one_as(self._col, {"_id": run_id}, to_run)

    async def get_by_snapshot(self, *, snapshot_id: str) -> SyncRun | None:
        """The run that collected ``snapshot_id``."""
        return await find_one_as(self._col, {"snapshot_id": snapshot_id}, to_run)

    async def get_active(self, *, integration_id: str) -> SyncRun | None:
        """The integration's queued or running run, if any."""
        return await find_one_as(
            self._col, {"integration_id": integration_id, "active": True}, to_run
        )

    async def list_active(self) -> list[SyncRun]:
        """Every queued or running run (the scheduler's view; a handful at a time)."""
        return [to_run(d) async for d in self._col.find({"active": True})]

    async def latest(self, *, integration_id: str) -> SyncRun | None:
        """The integration's most recently created run."""
        cursor = self._col.find({"integration_id": integration_id}).sort("created_at", -1)
        async for doc in cursor.limit(1):
            return to_run(doc)
        return None

    async def list_by_integration(
        self, *, integration_id: str, limit: int, before: tuple[datetime, str] | None = None
    ) -> tuple[list[SyncRun], int]:
        """Up to ``limit`` runs, newest first, strictly older than ``before``; and the total."""
        query: dict[str, Any] = {"integration_id": integration_id}
        total = int(await self._col.count_documents(query))
        docs = await newest_first(self._col, query, "created_at", before, limit)
        return [to_run(d) for d in docs], total

    async def list_finished(self, *, integration_id: str) -> list[SyncRun]:
        """Finished runs whose data is still stored, newest first (for retention)."""
        query = {
            "integration_id": integration_id,
            "active": False,
            "data_purged": {"$ne": True},
        }
        cursor = self._col.find(query, {"progress": 0}).sort("created_at", -1)
        return [to_run(d) async for d in cursor]

    async def claim(self, *, run_id: str, owner: str, fence: int) -> SyncRun | None:
        """QUEUED → RUNNING under lease ``fence``; None if the run is no longer queued."""
        doc = await self._col.find_one_and_update(
            {"_id": run_id, "status": SyncRunStatus.QUEUED.value},
            {
                "$set": {
                    "status": SyncRunStatus.RUNNING.value,
                    "owner": owner,
                    "fence": fence,
                    "started_at": utcnow(),
                }
            },
            return_document=ReturnDocument.AFTER,
        )
        return to_run(doc) if doc else None

    async def request_follow_up(
        self, *, integration_id: str, trigger: SyncTrigger
    ) -> SyncRun | None:
        """Ask the integration's RUNNING run for one follow-up run (requests coalesce into
        one); None when no run is running (queued, or finished meanwhile)."""
        doc = await self._col.find_one_and_update(
            {
                "integration_id": integration_id,
                "active": True,
                "status": SyncRunStatus.RUNNING.value,
            },
            {"$set": {"follow_up": trigger.value}},
            return_document=ReturnDocument.AFTER,
        )
        return to_run(doc) if doc else None

    async def add_targets(
        self, *, run_id: str, targets: RunTargets, watch: WatchMark | None
    ) -> SyncRun | None:
        """Add targets (and move the watch mark) to a QUEUED TARGETED run; None when the run
        is no longer queued (a worker claimed it: its reads may predate the events)."""
        update: dict[str, Any] = {
            "$addToSet": {
                "targets.accounts": {"$each": list(targets.accounts)},
                "targets.groups": {"$each": list(targets.groups)},
            }
        }
        if watch is not None:
            update["$set"] = {"watch": watch_doc(watch)}
        doc = await self._col.find_one_and_update(
            {
                "_id": run_id,
                "status": SyncRunStatus.QUEUED.value,
                "kind": SyncRunKind.TARGETED.value,
            },
            update,
            return_document=ReturnDocument.AFTER,
        )
        return to_run(doc) if doc else None

    async def attach_watch(self, *, run_id: str, watch: WatchMark) -> SyncRun | None:
        """Make a QUEUED run commit the watch mark too (a run that has not started reads
        after the events); None when it is no longer queued."""
        doc = await self._col.find_one_and_update(
            {"_id": run_id, "status": SyncRunStatus.QUEUED.value},
            {"$set": {"watch": watch_doc(watch)}},
            return_document=ReturnDocument.AFTER,
        )
        return to_run(doc) if doc else None

    async def make_full(self, *, run_id: str, trigger: SyncTrigger) -> SyncRun | None:
        """Turn a QUEUED run into a FULL one started by ``trigger`` (someone asked for a full
        sync while a refresh waited); None when it is no longer queued."""
        doc = await self._col.find_one_and_update(
            {"_id": run_id, "status": SyncRunStatus.QUEUED.value},
            {"$set": {"kind": SyncRunKind.FULL.value, "trigger": trigger.value}},
            return_document=ReturnDocument.AFTER,
        )
        return to_run(doc) if doc else None

    async def set_kind(self, *, run_id: str, fence: int, kind: SyncRunKind) -> bool:
        """Change a running run's kind (a TARGETED run that must read everything); False
        when the run is no longer this lease holder's."""
        update: dict[str, Any] = {"$set": {"kind": kind.value}}
        result = await self._col.update_one(_running(run_id, fence), update)
        return bool(result.matched_count)

    async def update_progress(self, *, run_id: str, fence: int, progress: SyncProgress) -> bool:
        """Record progress; False when the run is no longer this lease holder's to write."""
        result = await self._col.update_one(
            _running(run_id, fence), {"$set": {"progress": asdict(progress)}}
        )
        return bool(result.matched_count)

    async def finish(self, *, run_id: str, fence: int | None, end: RunEnd) -> SyncRun | None:
        """End an active run (fenced when it was running) as ``end`` says; None if it was not
        ours to end."""
        query: dict[str, Any] = {"_id": run_id, "active": True}
        if fence is not None:
            query.update(fence=fence, status=SyncRunStatus.RUNNING.value)
        fields: dict[str, Any] = {
            "status": end.status.value,
            "active": False,
            "finished_at": utcnow(),
            "progress": asdict(end.progress),
            "error": end.error,
            "error_endpoint": end.error_endpoint,
        }
        if end.counts is not None:
            fields["counts"] = asdict(end.counts)
        if end.not_before is not None:
            fields["not_before"] = end.not_before
        if end.warnings:
            fields["warnings"] = list(end.warnings)
        if end.previous_snapshot_id is not None:
            fields["previous_snapshot_id"] = end.previous_snapshot_id
        doc = await self._col.find_one_and_update(
            query, {"$set": fields}, return_document=ReturnDocument.AFTER
        )
        return to_run(doc) if doc else None

    async def mark_purged(self, *, run_id: str) -> None:
        """Record that the run's snapshot data was deleted by retention."""
        await self._col.update_one({"_id": run_id}, {"$set": {"data_purged": True}})


def _running(run_id: str, fence: int) -> dict[str, Any]:
    return {"_id": run_id, "status": SyncRunStatus.RUNNING.value, "fence": fence}


def _progress(raw: Mapping[str, Any] | None) -> SyncProgress:
    raw = raw or {}
    names = SyncProgress.__dataclass_fields__
    return SyncProgress(**{k: v for k, v in raw.items() if k in names})


def _counts(raw: Mapping[str, Any] | None) -> SnapshotCounts | None:
    if not raw:
        return None
    names = SnapshotCounts.__dataclass_fields__
    return SnapshotCounts(**{k: v for k, v in raw.items() if k in names})


def _targets_doc(t: RunTargets) -> dict[str, list[str]]:
    return {"accounts": list(t.accounts), "groups": list(t.groups)}


def watch_doc(w: WatchMark) -> dict[str, Any]:
    """A watch mark as stored (on a run, and on the integration when committed)."""
    return {
        "cursor": w.cursor,
        "event_ids": list(w.event_ids),
        "processed_at": w.processed_at,
        "event_time": w.event_time,
    }


def to_watch(raw: Any) -> WatchMark | None:
    """A stored watch mark."""
    if not isinstance(raw, Mapping) or not raw.get("cursor"):
        return None
    return WatchMark(
        cursor=str(raw["cursor"]),
        event_ids=tuple(raw.get("event_ids") or ()),
        processed_at=raw.get("processed_at"),
        event_time=raw.get("event_time"),
    )


def _to_targets(raw: Any) -> RunTargets:
    if not isinstance(raw, Mapping):
        return RunTargets()
    return RunTargets(
        tuple(sorted(raw.get("accounts") or ())), tuple(sorted(raw.get("groups") or ()))
    )


def to_run(doc: Mapping[str, Any]) -> SyncRun:
    """The domain object for a stored run."""
    return from_doc(
        SyncRun,
        doc,
        purpose=Purpose(doc["purpose"]),
        status=SyncRunStatus(doc["status"]),
        trigger=SyncTrigger(doc["trigger"]),
        progress=_progress(doc.get("progress")),
        counts=_counts(doc.get("counts")),
        follow_up=SyncTrigger(doc["follow_up"]) if doc.get("follow_up") else None,
        warnings=tuple(doc.get("warnings") or ()),
        kind=SyncRunKind(doc.get("kind") or SyncRunKind.FULL.value),
        targets=_to_targets(doc.get("targets")),
        watch=to_watch(doc.get("watch")),
    )


__all__ = ["SyncRunRepository", "to_run"]
