"""The snapshot list queries use their indexes on the wire server (issue 15), and the
unfiltered totals come from the counts recorded with the snapshot, not from a count.

SecantusDB (the test server) always puts a blocking SORT over the index scan, even when the
sort follows the index, so "no SORT stage" is asserted only on a real MongoDB
(``VIGIL_TEST_MONGODB_URL``); on every server the plan must scan the snapshot's index and
examine no document of another snapshot (no collection scan)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.store import Store
from services.sync.models import AccountFilter, SnapshotAccount, SnapshotScope
from tests.conftest import open_store

SIZE = 300


@pytest.fixture
async def wire_store(wire_url: str) -> AsyncIterator[Store]:
    store = open_store("wire", wire_url)
    await store.ensure_indexes()
    try:
        yield store
    finally:
        await store.drop()
        store.close()


class Recording:
    """A collection proxy that keeps the cursors of ``find`` and counts ``count_documents``."""

    def __init__(self, collection: Any) -> None:
        self._collection = collection
        self.cursors: list[Any] = []
        self.counts = 0

    def find(self, *args: Any, **kwargs: Any) -> Any:
        cursor = self._collection.find(*args, **kwargs)
        self.cursors.append(cursor)
        return cursor

    async def count_documents(self, *args: Any, **kwargs: Any) -> int:
        self.counts += 1
        return int(await self._collection.count_documents(*args, **kwargs))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._collection, name)


def _account(i: int) -> SnapshotAccount:
    return SnapshotAccount(
        account_id=f"acc-{i:05d}",
        display_name=f"User {i}",
        email=f"u{i}@acme.example",
        account_type="atlassian",
        account_status=("active", "inactive", "closed")[i % 3],
        is_admin=i % 10 == 0,
        mfa_enabled=None,
        groups=("confluence-users",) if i % 2 else ("confluence-users", "staff"),
        last_active_at=None,
    )


def _stages(plan: dict[str, Any]) -> list[dict[str, Any]]:
    out = [plan]
    for child in [plan.get("inputStage"), *plan.get("inputStages", [])]:
        if child:
            out += _stages(child)
    return out


async def test_account_list_queries_scan_the_snapshot_index(wire_store: Store) -> None:
    store = wire_store
    for snapshot_id in ("snap-a", "snap-b"):  # another snapshot: a collection scan shows
        scope = SnapshotScope(snapshot_id, "integration-1", "org-1")
        await store.snapshot_data.insert_accounts(scope, [_account(i) for i in range(SIZE)])
    await store.snapshot_data.record_counts("snap-a")
    recording = Recording(store.snapshot_queries._accounts)
    store.snapshot_queries._accounts = recording

    filters = {
        "none": AccountFilter(),
        "status": AccountFilter(status="inactive"),
        "admin": AccountFilter(admin=True),
        "group": AccountFilter(group="staff"),
    }
    for name, account_filter in filters.items():
        for after in (None, "acc-00100"):
            recording.cursors.clear()
            page, total = await store.snapshot_queries.list_accounts(
                snapshot_id="snap-a", filter=account_filter, limit=100, after=after
            )
            assert page and total > 0
            explained = await recording.cursors[-1].explain()
            stages = _stages(explained["queryPlanner"]["winningPlan"])
            kinds = [s["stage"] for s in stages]
            assert "COLLSCAN" not in kinds, (name, kinds)
            scans = [s for s in stages if s["stage"] == "IXSCAN"]
            assert scans and scans[0]["keyPattern"].get("snapshot_id") == 1, (name, stages)
            examined = explained.get("executionStats", {}).get("totalDocsExamined")
            if examined is not None:
                assert examined <= SIZE, (name, examined)  # only snapshot "snap-a"'s documents
            if explained.get("serverInfo", {}).get("host") != "secantus":
                assert "SORT" not in kinds, (name, kinds)  # the index gives the order

    # Totals: the unfiltered one is the recorded count (no count query); filtered ones count.
    recording.counts = 0
    _, total = await store.snapshot_queries.list_accounts(
        snapshot_id="snap-a", filter=AccountFilter(), limit=10, after=None
    )
    assert total == SIZE and recording.counts == 0
    _, inactive = await store.snapshot_queries.list_accounts(
        snapshot_id="snap-a", filter=AccountFilter(status="inactive"), limit=10, after=None
    )
    assert inactive == SIZE // 3 and recording.counts == 1
    # A snapshot without recorded counts (written outside a run) is counted.
    _, total_b = await store.snapshot_queries.list_accounts(
        snapshot_id="snap-b", filter=AccountFilter(), limit=10, after=None
    )
    assert total_b == SIZE and recording.counts == 2
    counts = await store.snapshot_data.counts("snap-a")
    assert counts.accounts == SIZE
    await store.snapshot_data.delete_snapshot("snap-a")
    assert (await store.snapshot_data.counts("snap-a")).accounts == 0
