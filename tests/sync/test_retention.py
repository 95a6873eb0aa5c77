"""Retention keeps the last N snapshots and every protected one; failed runs leave nothing."""

from __future__ import annotations

from services.store import Store
from services.sync.models import SnapshotCounts, SyncRunStatus
from simulator import RunningSimulator
from testkit.sync import connected_integration, make_runner, sync_now
from tests.sync.support import static_connectors


class Protected:
    """Evidence stand-in: the snapshots something refers to."""

    def __init__(self) -> None:
        self.ids: set[str] = set()

    async def protected_snapshot_ids(self, integration_id: str) -> set[str]:
        return set(self.ids)


async def test_keeps_last_n_and_protected_snapshots(
    store: Store, small_sim: RunningSimulator
) -> None:
    org = await store.organizations.create(name="Acme")
    integration = await connected_integration(store, org.id)
    protected = Protected()
    runner = make_runner(store, static_connectors(small_sim), keep=2, protected=protected)
    snapshots = []
    for i in range(5):
        if i == 2:
            small_sim.sim.faults.script("status", "POST /wiki/api/v2/users-bulk", status=400)
        run = await sync_now(runner, integration)
        assert run is not None
        snapshots.append(run)
        if i == 0:
            protected.ids.add(run.snapshot_id)  # evidence points at the first snapshot
    statuses = [r.status for r in snapshots]
    assert (
        statuses
        == [SyncRunStatus.SUCCEEDED] * 2 + [SyncRunStatus.FAILED] + [SyncRunStatus.SUCCEEDED] * 2
    )

    empty = SnapshotCounts()
    kept = {r.snapshot_id for r in (snapshots[0], snapshots[3], snapshots[4])}
    for run in snapshots:
        counts = await store.snapshot_data.counts(run.snapshot_id)
        if run.snapshot_id in kept:
            assert counts == run.counts and counts != empty
        else:
            assert counts == empty, run
    current = await store.integrations.get_by_id(integration_id=integration.id)
    assert current is not None and current.current_snapshot_id == snapshots[4].snapshot_id
    # The run history itself is never deleted.
    _, total = await store.sync_runs.list_by_integration(integration_id=integration.id, limit=1)
    assert total == 5
