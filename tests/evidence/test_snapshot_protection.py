"""Snapshot retention never deletes a snapshot that evidence points to (SPEC §3.2, §6.2)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.evidence.service import EvidencedSnapshots
from services.integrations.models import Purpose
from services.store import Store
from services.sync.models import SnapshotCounts, SyncRunStatus
from simulator import RunningSimulator, Simulator, generate_site, start_simulator
from testkit.sync import connected_integration, make_runner, sync_now
from tests.evidence.support import entry, service
from tests.sync.support import static_connectors


@pytest.fixture(scope="module")
def pages_sim() -> Iterator[RunningSimulator]:
    with start_simulator(Simulator(generate_site(users=5, groups=3, pages=12, seed=4))) as sim:
        yield sim


async def test_retention_keeps_snapshots_evidence_refers_to(
    store: Store, pages_sim: RunningSimulator
) -> None:
    org = await store.organizations.create(name="Acme")
    integration = await connected_integration(
        store, org.id, Purpose.POLICY, site_url=pages_sim.site_url()
    )
    protected = EvidencedSnapshots(integrations=store.integrations, evidence=store.evidence)
    runner = make_runner(store, static_connectors(pages_sim), keep=1, protected=protected)
    runs = []
    for i in range(3):
        run = await sync_now(runner, integration)
        assert run is not None and run.status is SyncRunStatus.SUCCEEDED, run
        runs.append(run)
        if i == 0:
            e = entry(org.id, 1, snapshot=run.snapshot_id)
            await service(store).record(e)
    empty = SnapshotCounts()
    counts = [await store.snapshot_data.counts(r.snapshot_id) for r in runs]
    assert counts[0] != empty, "evidence points at it: kept"
    assert counts[1] == empty, "neither recent nor evidenced: purged"
    assert counts[2] != empty, "current"
