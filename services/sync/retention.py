"""Snapshot retention: keep the last N successful snapshots per integration.

Never deleted: the current snapshot, the newest ``keep`` successful ones, and every snapshot
the injected ``ProtectedSnapshots`` names — evidence records the snapshot a check
result was computed over, and a snapshot evidence points to is kept as long as the evidence.
The data of failed runs (partial snapshots that never became current) is always deleted.
"""

from __future__ import annotations

import logging
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


class Retention:
    """Deletes the data of snapshots that are no longer kept."""

    def __init__(
        self,
        runs: FinishedRunsRepo,
        data: SnapshotDeleter,
        protected: ProtectedSnapshots | None = None,
        *,
        keep: int = DEFAULT_KEEP,
    ) -> None:
        if keep < 1:
            raise ValueError("retention must keep at least one snapshot")
        self._runs = runs
        self._data = data
        self._protected = protected or NothingProtected()
        self.keep = keep

    async def apply(self, *, integration_id: str, current_snapshot_id: str | None) -> list[str]:
        """Purge what is not kept; returns the purged snapshot ids."""
        protected = await self._protected.protected_snapshot_ids(integration_id)
        if current_snapshot_id:
            protected.add(current_snapshot_id)
        kept = 0
        purged: list[str] = []
        for run in await self._runs.list_finished(integration_id=integration_id):
            if run.status is SyncRunStatus.SUCCEEDED and kept < self.keep:
                kept += 1
                continue
            if run.snapshot_id in protected:
                continue
            await self._data.delete_snapshot(run.snapshot_id)
            await self._runs.mark_purged(run_id=run.id)
            purged.append(run.snapshot_id)
        if purged:
            log.info("retention purged %d snapshot(s) of %s", len(purged), integration_id)
        return purged
