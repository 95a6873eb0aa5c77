"""The revisioned cache: only changed documents are fetched, and a writer at work keeps the
cache from skipping documents it reserved but has not written yet (ADR 005)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from services.identity.caches import RevisionedCache, SnapshotAccountCache, SnapshotAccounts
from services.models import RevisionState
from tests.access.builders import account


@dataclass
class FakeCollection:
    """Documents ``(seq, (key, value))`` plus the counter, as the store would hold them."""

    docs: dict[str, tuple[int, tuple[str, str]]] = field(default_factory=dict)
    counter: int = 0
    writing: bool = False
    fetches: list[int] = field(default_factory=list)

    def reserve(self) -> int:
        self.counter += 1
        return self.counter

    def write(self, seq: int, key: str, value: str) -> None:
        self.docs[key] = (seq, (key, value))

    async def state(self, org: str) -> RevisionState:
        return RevisionState(self.counter, self.writing)

    async def changed(self, org: str, after: int) -> list[tuple[int, tuple[str, str]]]:
        self.fetches.append(after)
        return [doc for doc in self.docs.values() if doc[0] > after]


def cache_of(col: FakeCollection, clock: list[datetime]) -> RevisionedCache[str, tuple[str, str]]:
    return RevisionedCache(
        revision=col.state, changed=col.changed, key=lambda v: v[0],
        max_age=timedelta(minutes=15), clock=lambda: clock[0],
    )  # fmt: skip


async def test_reads_fetch_only_what_changed() -> None:
    col, clock = FakeCollection(), [datetime(2026, 1, 1, tzinfo=UTC)]
    col.write(col.reserve(), "a", "1")
    cache = cache_of(col, clock)
    assert await cache.get("org") == {"a": ("a", "1")}
    assert await cache.get("org") == {"a": ("a", "1")}
    assert col.fetches == [0]  # the second read cost one counter read
    col.write(col.reserve(), "b", "2")
    assert set(await cache.get("org")) == {"a", "b"} and col.fetches == [0, 1]
    clock[0] += timedelta(minutes=16)  # the safety net: a whole reload
    await cache.get("org")
    assert col.fetches[-1] == 0


async def test_a_reserved_but_unwritten_document_is_not_skipped() -> None:
    col, clock = FakeCollection(), [datetime(2026, 1, 1, tzinfo=UTC)]
    cache = cache_of(col, clock)
    await cache.get("org")
    col.writing = True  # writer 1 reserved seq 1 but its document is not visible yet
    slow = col.reserve()
    col.write(col.reserve(), "fast", "x")  # writer 2 reserved and wrote seq 2
    assert set(await cache.get("org")) == {"fast"}
    col.write(slow, "slow", "y")
    col.writing = False
    assert set(await cache.get("org")) == {"fast", "slow"}


async def test_writes_of_this_process_apply_directly_and_newest_wins() -> None:
    col, clock = FakeCollection(), [datetime(2026, 1, 1, tzinfo=UTC)]
    cache = cache_of(col, clock)
    await cache.get("org")
    seq = col.reserve()
    col.write(seq, "a", "mine")
    cache.apply("org", [(seq, ("a", "mine"))], first=seq)
    assert await cache.get("org") == {"a": ("a", "mine")}
    assert col.fetches == [0]  # nothing to fetch: the cache already holds revision 1
    cache.apply("org", [(0, ("a", "older"))], first=1)  # an older value never replaces
    assert (await cache.get("org"))["a"] == ("a", "mine")


async def test_a_map_once_returned_never_changes_and_is_reused_until_a_change() -> None:
    col, clock = FakeCollection(), [datetime(2026, 1, 1, tzinfo=UTC)]
    col.write(col.reserve(), "a", "1")
    cache = cache_of(col, clock)
    first = await cache.get("org")
    assert await cache.get("org") is first  # consumers key derived data on the object
    seq = col.reserve()
    col.write(seq, "b", "2")
    cache.apply("org", [(seq, ("b", "2"))], first=seq)
    second = await cache.get("org")
    assert second is not first and set(second) == {"a", "b"}
    assert first == {"a": ("a", "1")}  # the earlier map was not changed under its reader


async def test_snapshot_accounts_are_read_once() -> None:
    reads: list[str] = []

    async def load(snapshot_id: str):  # type: ignore[no-untyped-def]
        reads.append(snapshot_id)
        return [account("b"), account("a")]

    cache = SnapshotAccountCache(load, max_snapshots=1)
    first = await cache.get("snap_1")
    assert [a.account_id for a in first.accounts] == ["a", "b"] and "a" in first.by_id
    await cache.get("snap_1")
    await cache.get("snap_2")
    await cache.get("snap_1")  # evicted by snap_2
    assert reads == ["snap_1", "snap_2", "snap_1"]


def test_snapshot_accounts_are_found_by_lower_cased_email_however_many_share_one() -> None:
    accounts = [
        account("a", email="Ann@Acme.test"),
        account("b", email="ann@acme.test"),
        account("c", email="bob@acme.test"),
        account("d", email="BOB@ACME.TEST"),
        account("e", email="Cy@Acme.test"),
        account("f"),
    ]
    snapshot = SnapshotAccounts.of("snap_1", accounts)
    assert [a.account_id for a in snapshot.with_email("ann@acme.test")] == ["a", "b"]
    assert [a.account_id for a in snapshot.with_email("bob@acme.test")] == ["c", "d"]
    assert [a.account_id for a in snapshot.with_email("cy@acme.test")] == ["e"]
    assert snapshot.with_email("Cy@Acme.test") == () and snapshot.with_email("nobody@x") == ()


async def test_a_whole_read_with_no_writer_at_work_keeps_no_seq_and_misses_no_write() -> None:
    """A million keys read whole hold no million seqs (ADR 026's cold start): what a whole
    read made with no writer at work holds is at least as new as anything at or below its
    revision, and every later write is above it."""
    col, clock = FakeCollection(), [datetime(2026, 1, 1, tzinfo=UTC)]
    for i in range(500):
        col.write(col.reserve(), f"k{i}", "v1")
    late = col.reserve()  # a write of this process, finished before the read...
    col.write(late, "k7", "mine")
    col.write(col.reserve(), "k7", "theirs")  # ...and written over by another, also before
    cache = cache_of(col, clock)
    assert (await cache.get("org"))["k7"] == ("k7", "theirs")
    entry = cache._entries["org"]
    assert entry.seqs == {} and entry.floor == col.counter == entry.revision
    cache.apply("org", [(late, ("k7", "mine"))], first=late)  # its apply arrives after the read
    assert (await cache.get("org"))["k7"] == ("k7", "theirs")
    seq = col.reserve()
    col.write(seq, "k7", "newer")
    col.write(col.reserve(), "new", "1")
    held = await cache.get("org")
    assert held["k7"] == ("k7", "newer") and held["new"] == ("new", "1") and len(held) == 501
    assert set(entry.seqs) == {"k7", "new"}
    cache.apply("org", [(seq, ("k7", "newer again?"))], first=seq)  # the same seq: no change
    assert (await cache.get("org"))["k7"] == ("k7", "newer")
    clock[0] += timedelta(minutes=16)  # the safety net's whole reload keeps none either
    reloaded = await cache.get("org")
    assert reloaded == held and cache._entries["org"].seqs == {}


async def test_a_whole_read_while_a_writer_is_at_work_keeps_every_seq() -> None:
    col, clock = FakeCollection(), [datetime(2026, 1, 1, tzinfo=UTC)]
    for i in range(5):
        col.write(col.reserve(), f"k{i}", "v1")
    col.writing = True
    slow = col.reserve()
    cache = cache_of(col, clock)
    await cache.get("org")
    entry = cache._entries["org"]
    assert entry.floor == 0 and len(entry.seqs) == 5 and entry.revision == 0
    col.write(slow, "k1", "slow")
    col.writing = False
    assert (await cache.get("org"))["k1"] == ("k1", "slow")
