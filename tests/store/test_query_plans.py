"""The list queries read what a page needs on the wire server (issues 15 and 24).

Snapshot lists (accounts, Confluence pages) read their page through the snapshot's orders:
at most 2 x page + 1 keys and documents per query on every server, totals without a count.

The other lists are keyset pages over an index whose order is the page's. SecantusDB (the
test server) reads every key of a query's index bounds before it applies the limit, and its
``explain`` reports that: there they examine their partition (an organization's people, a
check's history, an integration's runs), never another's; the 2 x page + 1 bound is asserted
on a real MongoDB (``VIGIL_TEST_MONGODB_URL``), where the limit stops the index scan. It also
always puts a blocking SORT over the index scan, even when the sort follows the index, so
"no SORT stage" is asserted only on a real MongoDB too."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from services.checks.models import CheckItem, CheckResult, CheckStatus
from services.identity.models import Classification
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
from services.reviews.models import AccessDecision, Decision, NewReview, ReviewEntry
from services.store import Store, snapshot_orders
from services.store.common import newest_first
from services.sync.models import (
    AccountFilter,
    Grant,
    GrantSource,
    PageFilter,
    RunRequest,
    SnapshotAccount,
    SnapshotPage,
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
        account_type=AccountType.APP if i % 7 == 0 else AccountType.ATLASSIAN,
        account_status=(AccountStatus.ACTIVE, AccountStatus.INACTIVE, AccountStatus.CLOSED)[i % 3],
        mfa_enabled=None,
        groups=("confluence-users",) if i % 2 else ("confluence-users", "staff"),
        last_active_at=None,
        access_via=()
        if i % 11 == 0
        else (Grant.via_group("confluence-users", GrantSource.GROUP_MEMBERSHIP),),
        admin_via=(Grant.direct("atlassian/admin"),) if i % 10 == 0 else (),
    )


def _page(i: int) -> SnapshotPage:
    return SnapshotPage(
        page_id=f"page-{i:04d}",
        title=f"Policy {i}",
        status="current",
        space_key=("SEC", "HR", None)[i % 3],
        space_name=None,
        version=1,
        last_modified_at=None,
        last_modified_by=None,
        created_at=None,
        created_by=None,
        labels=("policy",) if i % 2 else ("policy", "policy", "draft"),
        web_url=None,
        body_storage=f"<p>{i}</p>",
    )


def _entry(org: str, i: int) -> ReviewEntry:
    return ReviewEntry(
        id="",
        review_id="",
        organization_id=org,
        account_id=f"acc-{i:04d}",
        display_name=None,
        email=None,
        groups=(),
        is_admin=False,
        account_status=AccountStatus.ACTIVE,
        classification=Classification.STAFF,
        person_id=None,
        kind=None,
    )


def _stages(plan: dict[str, Any]) -> list[dict[str, Any]]:
    out = [plan]
    for child in [plan.get("inputStage"), *plan.get("inputStages", [])]:
        if child:
            out += _stages(child)
    return out


async def test_snapshot_pages_examine_the_page_not_the_snapshot(
    wire_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every page of ``accounts`` and ``confluencePages`` (no filter or a filter with a value
    of its own, first and later pages) examines at most 2 x page + 1 keys and documents in
    each query, on every server (SecantusDB reports what it reads before its limit)."""
    monkeypatch.setattr(snapshot_orders, "CHUNK", 16)  # many chunks from a small snapshot
    store = wire_store
    accounts = [_account(i) for i in range(SIZE)]
    pages = [_page(i) for i in range(SIZE // 3)]
    for snapshot_id in ("snap-a", "snap-b"):  # another snapshot: reading it would show
        scope = SnapshotScope(snapshot_id, "integration-1", "org-1")
        await store.snapshot_data.insert_accounts(scope, accounts)
        await store.snapshot_data.upsert_pages(scope, pages)
    await store.snapshot_data.record_counts("snap-a")
    plans = Plans()
    queries = store.snapshot_queries
    plans.record(queries, "_accounts")
    plans.record(queries, "_pages")
    for orders in (queries._account_orders, queries._page_orders):
        plans.record(orders, "_orders")
        plans.record(orders, "_keys")

    account_filters: dict[str, tuple[AccountFilter, Callable[[SnapshotAccount], bool]]] = {
        "none": (AccountFilter(), lambda a: True),
        "status": (
            AccountFilter(status=AccountStatus.INACTIVE),
            lambda a: a.account_status is AccountStatus.INACTIVE,
        ),
        "admin": (AccountFilter(admin=True), lambda a: a.is_admin),
        "not admin": (AccountFilter(admin=False), lambda a: not a.is_admin),
        "access": (AccountFilter(has_access=True), lambda a: a.has_access),
        "no access": (AccountFilter(has_access=False), lambda a: not a.has_access),
        "group": (AccountFilter(group="staff"), lambda a: "staff" in a.groups),
        "type": (
            AccountFilter(account_type=AccountType.APP),
            lambda a: a.account_type is AccountType.APP,
        ),
        "nobody": (AccountFilter(group="no such group"), lambda a: False),
    }
    limit = 10
    for name, (account_filter, wanted) in account_filters.items():
        expected = [a.account_id for a in accounts if wanted(a)]
        seen: list[str] = []
        after: str | None = None
        while True:  # every page, from the first to the last
            plans.clear()
            plans.counts = 0
            page, total = await queries.list_accounts(
                snapshot_id="snap-a", filter=account_filter, limit=limit + 1, after=after
            )
            assert total == len(expected) and plans.count_calls() == 0, name
            for plan in await plans.explained():
                assert_examines_at_most(plan, 2 * limit + 1, name)
            seen += [a.account_id for a in page[:limit]]
            if len(page) <= limit:
                break
            after = page[limit - 1].account_id
        assert seen == expected, name
    # From a cursor that is not an id of the snapshot (an account gone since): the next ids.
    page, _ = await queries.list_accounts(
        snapshot_id="snap-a", filter=AccountFilter(), limit=3, after="acc-00100x"
    )
    assert [a.account_id for a in page] == ["acc-00101", "acc-00102", "acc-00103"]

    page_filters: dict[str, tuple[PageFilter, Callable[[SnapshotPage], bool]]] = {
        "none": (PageFilter(), lambda p: True),
        "label": (PageFilter(label="policy"), lambda p: "policy" in p.labels),
        "space": (PageFilter(space="SEC"), lambda p: p.space_key == "SEC"),
    }
    for name, (page_filter, keep) in page_filters.items():
        expected = [p.page_id for p in pages if keep(p)]
        for after in (None, expected[len(expected) // 2]):
            plans.clear()
            found, total = await queries.list_pages(
                snapshot_id="snap-a", filter=page_filter, limit=limit + 1, after=after
            )
            start = 0 if after is None else expected.index(after) + 1
            assert [p.page_id for p in found] == expected[start : start + limit + 1], name
            assert total == len(expected) and all(p.body_storage is None for p in found)
            for plan in await plans.explained():
                assert_examines_at_most(plan, 2 * limit + 1, name)

    # A snapshot without orders (committed before they existed) is read by keyset and counted.
    plans.counts = 0
    page, total_b = await queries.list_accounts(
        snapshot_id="snap-b", filter=AccountFilter(group="staff"), limit=10, after="acc-00100"
    )
    assert total_b == SIZE // 2 and plans.count_calls() == 1
    assert [a.account_id for a in page] == [f"acc-{i:05d}" for i in range(102, 122, 2)]
    # Filters with no order of their own (a search, two filters) are keyset reads too.
    page, total = await queries.list_accounts(
        snapshot_id="snap-a",
        filter=AccountFilter(status=AccountStatus.ACTIVE, admin=True),
        limit=100,
        after=None,
    )
    assert total == len(page) == len([i for i in range(SIZE) if i % 30 == 0])
    counts = await store.snapshot_data.counts("snap-a")
    assert counts.accounts == SIZE
    await store.snapshot_data.delete_snapshot("snap-a")
    assert (await store.snapshot_data.counts("snap-a")).accounts == 0
    for orders in (queries._account_orders, queries._page_orders):
        assert await orders._orders.count_documents({"snapshot_id": "snap-a"}) == 0
        assert await orders._keys.count_documents({"snapshot_id": "snap-a"}) == 0


def assert_examines_at_most(explained: dict[str, Any], most: int, what: str) -> None:
    """No collection scan; at most ``most`` keys and documents examined (when reported)."""
    kinds = [s["stage"] for s in _stages(explained["queryPlanner"]["winningPlan"])]
    assert "COLLSCAN" not in kinds, (what, kinds)
    stats = explained.get("executionStats", {})
    for field in ("totalKeysExamined", "totalDocsExamined"):
        if field in stats:
            assert stats[field] <= most, (what, field, stats[field])


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

    @property
    def counts(self) -> int:
        return self.count_calls()

    @counts.setter
    def counts(self, value: int) -> None:
        for r in self.recorded:
            r.counts = value

    def count_calls(self) -> int:
        """``count_documents`` calls since the counts were last set."""
        return sum(r.counts for r in self.recorded)

    async def explained(self) -> list[dict[str, Any]]:
        """The explain output of every ``find`` and ``find_one`` since ``clear``."""
        out = [await c.explain() for r in self.recorded for c in r.cursors]
        for r in self.recorded:
            for args, kwargs in r.find_ones:
                out.append(await r._collection.find(*args, **kwargs).limit(1).explain())
        return out


def assert_index_scan(
    explained: dict[str, Any], first_key: str, what: str, page: int, partition: int
) -> None:
    """The plan reads an index led by ``first_key`` (or ``_id``), never the collection; on a
    real MongoDB without a blocking sort and examining at most 2 x ``page`` + 1 keys and
    documents; on SecantusDB (which reads the whole index range before the limit) at most the
    ``partition`` the query names (an organization's, a check's, an integration's)."""
    stages = _stages(explained["queryPlanner"]["winningPlan"])
    kinds = [s["stage"] for s in stages]
    assert "COLLSCAN" not in kinds, (what, kinds)
    scans = [s for s in stages if s["stage"] == "IXSCAN"]
    by_id = "IDHACK" in kinds or (scans and scans[0]["keyPattern"] == {"_id": 1})
    assert by_id or (scans and first_key in scans[0]["keyPattern"]), (what, stages)
    secantus = explained.get("serverInfo", {}).get("host") == "secantus"
    most = partition if secantus else 2 * page + 1
    stats = explained.get("executionStats", {})
    for field in ("totalKeysExamined", "totalDocsExamined"):
        if field in stats:
            assert stats[field] <= most, (what, field, stats[field])
    if not secantus:
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
    reviews: dict[str, str] = {}
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
            RunRequest(org, f"int-{org}", Purpose.ACCESS_REVIEW, SyncTrigger.MANUAL)
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
        for n in range(3):  # reviews of three systems, the last one open
            entries = [_entry(org, i) for i in range(SMALL)]
            review = await store.access_reviews.create(
                NewReview(
                    org, f"sys-{org}-{n}", started_by="key_1", snapshot_id=None, entries=entries
                )
            )
            assert review is not None
            reviews.setdefault(org, review.id)
    first_entries, _ = await store.access_reviews.list_entries(
        review_id=reviews["org-1"], decision=None, limit=5, after=None
    )
    decided = await store.access_reviews.decide(
        entry_id=first_entries[3].id, decision=Decision(AccessDecision.KEEP, None, "key_1", T0)
    )
    assert decided is not None and decided.account_id == "acc-0003"

    plans = Plans()
    plans.record(store.check_results, "_latest")
    plans.record(store.check_results, "_history")
    plans.record(store.check_results, "_items")
    plans.record(store.people, "_col")
    plans.record(store.evidence, "_col")
    plans.record(store.sync_runs, "_col")
    plans.record(store.access_reviews, "_reviews")
    plans.record(store.access_reviews, "_entries")
    review = reviews["org-1"]
    [newest_review] = [
        (r.started_at, r.id)
        for r in (
            await store.access_reviews.list_reviews(organization_id="org-1", limit=1, before=None)
        )[0]
    ]
    people_by_update, _ = await store.people.list_people(
        organization_id="org-1",
        filter=PersonFilter(),
        limit=SMALL // 2,
        after=None,
        sort=PersonSort(PersonSortField.UPDATED_AT),
    )
    middle = people_by_update[-1]  # every person was written at once: one updated_at, all ties
    newest = _result("org-1", checks[-1], SMALL - 1, items=SMALL - 1).id
    assert newest is not None

    people_tie = PersonKey(middle.updated_at, middle.email.lower())
    reads: list[tuple[str, str, int, int, Any]] = [
        ("checks", "organization_id", len(checks), len(checks),
         lambda: store.check_results.list_latest_heads(organization_id="org-1")),
        ("check", "_id", 1, 1, lambda: store.check_results.list_latest_heads(
            organization_id="org-1", check_id=checks[0])),
        ("failing items page", "_id", 1, 2, lambda: store.check_results.failing_page(
            organization_id="org-1", result_id=newest, offset=10, limit=5)),
        ("excepted items", "_id", 1, 2, lambda: store.check_results.excepted_items(
            organization_id="org-1", result_id=newest)),
        ("check history", "organization_id", 5, SMALL,
         lambda: store.check_results.list_history_heads(
            organization_id="org-1", check_id=checks[0], limit=5, before=None)),
        ("check history after", "organization_id", 5, SMALL,
         lambda: store.check_results.list_history_heads(
            organization_id="org-1", check_id=checks[0], limit=5,
            before=(T0 + timedelta(minutes=SMALL // 2), "res_z"))),
        ("people", "organization_id", 10, SMALL, lambda: store.people.list_people(
            organization_id="org-1", filter=PersonFilter(), limit=10, after=None)),
        ("people after", "organization_id", 10, SMALL, lambda: store.people.list_people(
            organization_id="org-1", filter=PersonFilter(), limit=10,
            after=PersonKey("p5@org-1.example", "p5@org-1.example"))),
        ("people by status", "organization_id", 10, SMALL, lambda: store.people.list_people(
            organization_id="org-1", filter=PersonFilter(status=PersonStatus.ACTIVE), limit=10,
            after=None)),
        ("people by update", "organization_id", 10, SMALL, lambda: store.people.list_people(
            organization_id="org-1", filter=PersonFilter(), limit=10, after=None,
            sort=PersonSort(PersonSortField.UPDATED_AT, descending=True))),
        ("people by update after", "organization_id", 10, SMALL, lambda: store.people.list_people(
            organization_id="org-1", filter=PersonFilter(), limit=10, after=people_tie,
            sort=PersonSort(PersonSortField.UPDATED_AT))),
        ("evidence of a check", "organization_id", 10, SMALL,
         lambda: store.evidence.list_for_check(
            organization_id="org-1", check_id=CHECKS[0], limit=10, before=None)),
        ("evidence after", "organization_id", 10, SMALL, lambda: store.evidence.list_for_check(
            organization_id="org-1", check_id=CHECKS[0], limit=10, before=SMALL // 2)),
        ("sync runs", "integration_id", 10, SMALL + 1, lambda: store.sync_runs.list_by_integration(
            integration_id="int-org-1", limit=10)),
        ("sync runs after", "integration_id", 10, SMALL + 1,
         lambda: store.sync_runs.list_by_integration(
            integration_id="int-org-1", limit=10,
            before=(T0 + timedelta(minutes=SMALL // 2), "run-z"))),
        ("reviews", "organization_id", 1, 3, lambda: store.access_reviews.list_reviews(
            organization_id="org-1", limit=1, before=None)),
        ("reviews after", "organization_id", 1, 3, lambda: store.access_reviews.list_reviews(
            organization_id="org-1", limit=1, before=newest_review)),
        ("review entries", "review_id", 10, SMALL, lambda: store.access_reviews.list_entries(
            review_id=review, decision=None, limit=10, after=None)),
        ("review entries after", "review_id", 10, SMALL,
         lambda: store.access_reviews.list_entries(
            review_id=review, decision=None, limit=10, after="acc-0020")),
        ("review entries by decision", "review_id", 10, SMALL,
         lambda: store.access_reviews.list_entries(
            review_id=review, decision=AccessDecision.PENDING, limit=10, after="acc-0020")),
    ]  # fmt: skip
    for what, first_key, size, partition, read in reads:
        plans.clear()
        found = await read()
        assert found[0] if isinstance(found, tuple) else found, what  # something of org-1
        explained = await plans.explained()
        assert explained, what
        for plan in explained:
            assert_index_scan(plan, first_key, what, size, partition)

    # Pages through ties once each (one updated_at for everyone), totals as they are.
    rest, total = await store.people.list_people(
        organization_id="org-1", filter=PersonFilter(), limit=SMALL, after=people_tie,
        sort=PersonSort(PersonSortField.UPDATED_AT))  # fmt: skip
    assert len(people_by_update) + len(rest) == total == SMALL
    assert {p.id for p in people_by_update}.isdisjoint(p.id for p in rest)
    entries, total = await store.access_reviews.list_entries(
        review_id=review, decision=None, limit=5, after="acc-0020"
    )
    assert total == SMALL and entries[0].account_id == "acc-0021"
    pending, total = await store.access_reviews.list_entries(
        review_id=review, decision=AccessDecision.PENDING, limit=5, after=None
    )
    assert total == SMALL - 1 and "acc-0003" not in [e.account_id for e in pending]
    older, total = await store.access_reviews.list_reviews(
        organization_id="org-1", limit=5, before=newest_review
    )
    assert total == 3 and len(older) == 2 and newest_review[1] not in [r.id for r in older]

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
