"""Snapshot retention: keep the last N successful snapshots per integration.

Never deleted: the current snapshot, the newest ``keep`` successful ones, and every snapshot
the injected ``ProtectedSnapshots`` names — evidence records the snapshot a check
result was computed over, and a snapshot evidence points to is kept as long as the evidence —
and the full snapshot any kept one is a layer over (a targeted run's snapshot holds only
what changed since its base: ADR 020). The data of failed runs (partial snapshots that never
became current) is always deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import KW_ONLY, dataclass, field
from typing import Protocol

from services.sync.models import SyncRun, SyncRunStatus

log = logging.getLogger(__name__)

DEFAULT_KEEP = 30


class ProtectedSnapshots(Protocol):
    """Which snapshots of an integration must be kept whatever their age."""

    async def protected_snapshot_ids(self, integration_id: str) -> set[str]:
        """Ids of snapshots something (evidence) refers to."""
        ...


class NothingProtected:
    """Until evidence exists, no snapshot is referenced."""

    async def protected_snapshot_ids(self, integration_id: str) -> set[str]:
        """The empty set."""
        return set()


class FinishedRunsRepo(Protocol):
    """The ``SyncRunRepository`` methods ``Retention`` calls."""

    async def list_finished(self, *, integration_id: str) -> list[SyncRun]: ...
    async def mark_purged(self, *, run_id: str) -> None: ...


class SnapshotDeleter(Protocol):
    """The ``SnapshotDataRepository`` method ``Retention`` calls (the runner too: failed runs)."""

    async def delete_snapshot(self, snapshot_id: str) -> None: ...


class SnapshotBases(Protocol):
    """Which snapshots are layers over which base (``SnapshotLayers.bases``)."""

    async def bases(self, snapshot_ids: Collection[str]) -> dict[str, str]: ...


class NoLayers:
    """Every snapshot is a full one (stores or tests without layers)."""

    async def bases(self, snapshot_ids: Collection[str]) -> dict[str, str]:
        """None is a layer."""
        return {}


@dataclass(eq=False, repr=False)
class Retention:
    """Deletes the data of snapshots that are no longer kept."""

    runs: FinishedRunsRepo
    data: SnapshotDeleter
    protected: ProtectedSnapshots | None = None
    _: KW_ONLY
    keep: int = DEFAULT_KEEP
    layers: SnapshotBases = field(default_factory=NoLayers)
    _protected: ProtectedSnapshots = field(init=False)

    def __post_init__(self) -> None:
        if self.keep < 1:
            raise ValueError("retention must keep at least one snapshot")
        self._protected = self.protected or NothingProtected()

    async def apply(self, *, integration_id: str, current_snapshot_id: str | None) -> list[str]:
        """Purge what is not kept; returns the purged snapshot ids."""
        protected = await self._protected.protected_snapshot_ids(integration_id)
        if current_snapshot_id:
            protected.add(current_snapshot_id)
        runs = await self.runs.list_finished(integration_id=integration_id)
        kept = 0
        doomed = []
        for run in runs:
            if run.status is SyncRunStatus.SUCCEEDED and kept < self.keep:
                kept += 1
                protected.add(run.snapshot_id)
            elif run.snapshot_id not in protected:
                doomed.append(run)
        # A kept layer needs its base.
        protected |= set((await self.layers.bases(protected)).values())
        purged: list[str] = []
        for run in doomed:
            if run.snapshot_id in protected:
                continue
            await self.data.delete_snapshot(run.snapshot_id)
            await self.runs.mark_purged(run_id=run.id)
            purged.append(run.snapshot_id)
        if purged:
            log.info("retention purged %d snapshot(s) of %s", len(purged), integration_id)
        return purged
