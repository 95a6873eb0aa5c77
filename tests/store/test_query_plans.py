"""The snapshot list queries use their indexes on the wire server (issue 15), and the
unfiltered totals come from the counts recorded with the snapshot, not from a count.

SecantusDB (the test server) always puts a blocking SORT over the index scan, even when the
sort follows the index, so "no SORT stage" is asserted only on a real MongoDB
(``VIGIL_TEST_MONGODB_URL``); on every server the plan must scan the snapshot's index and
examine no document of another snapshot (no collection scan)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from services.checks.models import CheckItem, CheckResult, CheckStatus
from services.integrations.models import Purpose
from services.models import AccountStatus, AccountType
from services.people.models import (
    PersonFilter,
    PersonKey,
    PersonRecord,
    PersonSort,
    PersonSortField,
    PersonStatus,
)
from services.store import Store
from services.store.common import newest_first
from services.sync.models import (
    AccountFilter,
    Grant,
    GrantSource,
    SnapshotAccount,
    SnapshotScope,
    SyncTrigger,
)
from testkit.live import open_store
from tests.evidence.support import CHECKS, T0, bulk_load, prepared_chain

SIZE = 300
SMALL = 40


class Recording:
    """A collection proxy that keeps the cursors of ``find`` (and the arguments of
    ``find_one``) and counts ``count_documents``."""

    def __init__(self, collection: Any) -> None:
        self._collection = collection
        self.cursors: list[Any] = []
        self.find_ones: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
        self.counts = 0

    def find(self, *args: Any, **kwargs: Any) -> Any:
        cursor = self._collection.find(*args, **kwargs)
        self.cursors.append(cursor)
        return cursor

    async def find_one(self, *args: Any, **kwargs: Any) -> Any:
        self.find_ones.append((args, kwargs))
        return await self._collection.find_one(*args, **kwargs)

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
        account_type=AccountType.ATLASSIAN,
        account_status=(AccountStatus.ACTIVE, AccountStatus.INACTIVE, AccountStatus.CLOSED)[i % 3],
        mfa_enabled=None,
        groups=("confluence-users",) if i % 2 else ("confluence-users", "staff"),
        last_active_at=None,
        access_via=(Grant.via_group("confluence-users", GrantSource.GROUP_MEMBERSHIP),),
        admin_via=(Grant.direct("atlassian/admin"),) if i % 10 == 0 else (),
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
        "status": AccountFilter(status=AccountStatus.INACTIVE),
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
        snapshot_id="snap-a",
        filter=AccountFilter(status=AccountStatus.INACTIVE),
        limit=10,
        after=None,
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


class Plans:
    """Proxies of the collections a test reads, and the plans of what they were asked."""

    def __init__(self) -> None:
        self.recorded: list[Recording] = []

    def record(self, owner: Any, attribute: str) -> None:
        recording = Recording(getattr(owner, attribute))
        setattr(owner, attribute, recording)
        self.recorded.append(recording)

    def clear(self) -> None:
        for r in self.recorded:
            r.cursors.clear()
            r.find_ones.clear()

    async def explained(self) -> list[dict[str, Any]]:
        """The explain output of every ``find`` and ``find_one`` since ``clear``."""
        out = [await c.explain() for r in self.recorded for c in r.cursors]
        for r in self.recorded:
            for args, kwargs in r.find_ones:
                out.append(await r._collection.find(*args, **kwargs).limit(1).explain())
        return out


def assert_index_scan(explained: dict[str, Any], first_key: str, what: str, most: int) -> None:
    """The plan reads an index led by ``first_key`` (or ``_id``), never the collection, and
    examines at most ``most`` documents; without a blocking sort on a real MongoDB."""
    stages = _stages(explained["queryPlanner"]["winningPlan"])
    kinds = [s["stage"] for s in stages]
    assert "COLLSCAN" not in kinds, (what, kinds)
    scans = [s for s in stages if s["stage"] == "IXSCAN"]
    assert "IDHACK" in kinds or (scans and first_key in scans[0]["keyPattern"]), (what, stages)
    examined = explained.get("executionStats", {}).get("totalDocsExamined")
    if examined is not None:
        assert examined <= most, (what, examined)
    if explained.get("serverInfo", {}).get("host") != "secantus":
        assert "SORT" not in kinds, (what, kinds)


def _result(org: str, check_id: str, n: int, items: int) -> CheckResult:
    at = T0 + timedelta(minutes=n)
    failing = tuple(CheckItem("account", f"acc-{i:04d}", None, "x") for i in range(items))
    return CheckResult(
        organization_id=org,
        check_id=check_id,
        status=CheckStatus.FAILING if items else CheckStatus.PASSING,
        reason=None,
        failing_items=failing,
        excepted_items=(CheckItem("account", "acc-excepted", None, "x"),),
        evaluated_at=at,
        changed_at=at,
        id=f"res_{org}_{check_id}_{n:03d}",
    )


async def test_check_results_people_evidence_and_runs_use_their_indexes(wire_store: Store) -> None:
    store = wire_store
    checks = [f"check-{c}" for c in range(4)]
    for org in ("org-1", "org-2"):  # another organization: a collection scan shows
        for n in range(SMALL):
            check_id = checks[n % len(checks)]
            version = None if n < len(checks) else n // len(checks)
            recorded = await store.check_results.record_change(
                _result(org, check_id, n, items=n), expected_version=version
            )
            assert recorded
        people = [
            PersonRecord(f"p{i}@{org}.example", f"P {i}", PersonStatus.ACTIVE, None, None, None)
            for i in range(SMALL)
        ]
        await store.people.write(organization_id=org, records=people, existing={})
        await bulk_load(store, prepared_chain(org, SMALL))
        run = await store.sync_runs.create(
            organization_id=org,
            integration_id=f"int-{org}",
            purpose=Purpose.ACCESS_REVIEW,
            trigger=SyncTrigger.MANUAL,
        )
        assert run is not None
        runs = store._db["sync_runs"]
        template = await runs.find_one({"_id": run.id})
        await runs.insert_many(
            [
                {**template, "_id": f"run-{org}-{i:03d}", "active": False}
                | {"created_at": T0 + timedelta(minutes=i)}
                for i in range(SMALL)
            ]
        )

    plans = Plans()
    plans.record(store.check_results, "_latest")
    plans.record(store.check_results, "_history")
    plans.record(store.check_results, "_items")
    plans.record(store.people, "_col")
    plans.record(store.evidence, "_col")
    plans.record(store.sync_runs, "_col")
    newest = _result("org-1", checks[-1], SMALL - 1, items=SMALL - 1).id
    assert newest is not None

    reads: list[tuple[str, str, int, Any]] = [
        ("checks", "organization_id", len(checks), lambda: store.check_results.list_latest_heads(
            organization_id="org-1")),
        ("check", "_id", 1, lambda: store.check_results.list_latest_heads(
            organization_id="org-1", check_id=checks[0])),
        ("failing items page", "_id", 2, lambda: store.check_results.failing_page(
            organization_id="org-1", result_id=newest, offset=10, limit=5)),
        ("excepted items", "_id", 2, lambda: store.check_results.excepted_items(
            organization_id="org-1", result_id=newest)),
        ("check history", "organization_id", SMALL, lambda: store.check_results.list_history_heads(
            organization_id="org-1", check_id=checks[0], limit=5, before=None)),
        ("check history after", "organization_id", SMALL, lambda: store.check_results.list_history_heads(
            organization_id="org-1", check_id=checks[0], limit=5,
            before=(T0 + timedelta(minutes=SMALL // 2), "res_z"))),
        ("people", "organization_id", SMALL, lambda: store.people.list_people(
            organization_id="org-1", filter=PersonFilter(), limit=10, after=None)),
        ("people after", "organization_id", SMALL, lambda: store.people.list_people(
            organization_id="org-1", filter=PersonFilter(), limit=10,
            after=PersonKey("p5@org-1.example", "p5@org-1.example"))),
        ("people by status", "organization_id", SMALL, lambda: store.people.list_people(
            organization_id="org-1", filter=PersonFilter(status=PersonStatus.ACTIVE), limit=10,
            after=None)),
        ("people by update", "organization_id", SMALL, lambda: store.people.list_people(
            organization_id="org-1", filter=PersonFilter(), limit=10, after=None,
            sort=PersonSort(PersonSortField.UPDATED_AT, descending=True))),
        ("evidence of a check", "organization_id", SMALL, lambda: store.evidence.list_for_check(
            organization_id="org-1", check_id=CHECKS[0], limit=10, before=None)),
        ("evidence after", "organization_id", SMALL, lambda: store.evidence.list_for_check(
            organization_id="org-1", check_id=CHECKS[0], limit=10, before=SMALL // 2)),
        ("sync runs", "integration_id", SMALL + 1, lambda: store.sync_runs.list_by_integration(
            integration_id="int-org-1", limit=10)),
        ("sync runs after", "integration_id", SMALL + 1, lambda: store.sync_runs.list_by_integration(
            integration_id="int-org-1", limit=10,
            before=(T0 + timedelta(minutes=SMALL // 2), "run-z"))),
    ]  # fmt: skip
    for what, first_key, most, read in reads:
        plans.clear()
        assert await read(), what  # every read finds something of org-1
        explained = await plans.explained()
        assert explained, what
        for plan in explained:
            assert_index_scan(plan, first_key, what, most)

    # The failing count is the one written with the result: no items are read to count them.
    [view] = await store.check_results.list_latest_heads(
        organization_id="org-1", check_id=checks[-1]
    )
    assert view.result.failing_items == () and view.failing_count == SMALL - 1
    page = await store.check_results.failing_page(
        organization_id="org-1", result_id=newest, offset=10, limit=5
    )
    assert [i.resource_id for i in page] == [f"acc-{i:04d}" for i in range(10, 15)]
    assert not await store.check_results.failing_page(
        organization_id="org-2", result_id=newest, offset=0, limit=5
    )  # another organization's result is not found


async def test_newest_first_pages_through_ties_once_each() -> None:
    store = open_store("mock", None)
    try:
        collection = store._db["paging"]
        at = [T0 + timedelta(minutes=m) for m in (1, 2, 2, 2, 3, 3, 4)]  # ties at 2 and 3
        await collection.insert_many([{"_id": f"d{i}", "at": t} for i, t in enumerate(at)])
        seen: list[str] = []
        before = None
        while True:
            page = await newest_first(collection, {}, "at", before, 2)
            if not page:
                break
            seen += [d["_id"] for d in page]
            before = (page[-1]["at"], page[-1]["_id"])
        expected = sorted(range(len(at)), key=lambda i: (at[i], f"d{i}"), reverse=True)
        assert seen == [f"d{i}" for i in expected]
    finally:
        await store.drop()
        store.close()


async def test_a_result_written_before_failing_counts_is_counted_once_read() -> None:
    store = open_store("mock", None)
    try:
        result = _result("org-1", "check-0", 1, items=7)
        assert await store.check_results.record_change(result, expected_version=None)
        raw = store._db["check_results"]
        header = await raw.find_one({})
        manifest = await store._db["check_items"].find_one({"_id": header["failing_list"]})
        [[sha, _]] = manifest["chunks"]  # the one chunk of the seven failing items
        items = await store._db["check_items"].find({"_id": f"org-1:c:{sha}"}).to_list(None)
        await raw.update_many(  # as an older version wrote: items inline, no counts
            {},
            {
                "$unset": {
                    "failing_count": "",
                    "excepted_count": "",
                    "items_apart": "",
                    "failing_list": "",
                    "excepted_list": "",
                },
                "$set": {"failing_items": [i for d in items for i in d["items"]]},
            },
        )
        [view] = await store.check_results.list_latest_heads(organization_id="org-1")
        assert (view.failing_count, view.excepted_count) == (7, 0)  # excepted: not inline
        assert view.result.failing_items == () and view.result.id == result.id
        assert await store.check_results.list_latest_heads(organization_id="org-2") == []
    finally:
        await store.drop()
        store.close()
