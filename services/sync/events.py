"""Sync events on the bus: the run, as JSON-ready data (any bus backend can carry it)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from services.events import Event
from services.integrations.models import Purpose
from services.sync.models import (
    RunTargets,
    SnapshotCounts,
    SyncProgress,
    SyncRun,
    SyncRunKind,
    SyncRunStatus,
    SyncTrigger,
)

_TIMES = ("created_at", "started_at", "finished_at", "not_before")


def run_event(run: SyncRun) -> Event:
    """The event published for a run: ``{"integration_id", "run_id", "run": {...}}`` (the
    change watch's mark stays out: subscribers show runs)."""
    data = asdict(run)
    data.pop("watch", None)
    data["targets"] = {"accounts": list(run.targets.accounts), "groups": list(run.targets.groups)}
    data["kind"] = run.kind.value
    for key in _TIMES:
        value = data[key]
        data[key] = value.isoformat() if isinstance(value, datetime) else None
    data["purpose"] = run.purpose.value
    data["status"] = run.status.value
    data["trigger"] = run.trigger.value
    data["follow_up"] = run.follow_up.value if run.follow_up else None
    data["warnings"] = list(run.warnings)
    return {"integration_id": run.integration_id, "run_id": run.id, "run": data}


def run_from_event(event: Event) -> SyncRun:
    """The run carried by an event made by ``run_event``."""
    data: dict[str, Any] = dict(event["run"])
    for key in _TIMES:
        value = data.get(key)
        data[key] = datetime.fromisoformat(value) if isinstance(value, str) else None
    data["purpose"] = Purpose(data["purpose"])
    data["status"] = SyncRunStatus(data["status"])
    data["trigger"] = SyncTrigger(data["trigger"])
    data["follow_up"] = SyncTrigger(data["follow_up"]) if data.get("follow_up") else None
    data["warnings"] = tuple(data.get("warnings") or ())
    data["kind"] = SyncRunKind(data.get("kind") or SyncRunKind.FULL.value)
    targets = data.get("targets") or {}
    data["targets"] = RunTargets(
        tuple(targets.get("accounts") or ()), tuple(targets.get("groups") or ())
    )
    data["watch"] = None
    data["progress"] = SyncProgress(**data["progress"])
    counts = data.get("counts")
    data["counts"] = SnapshotCounts(**counts) if counts else None
    return SyncRun(**data)
