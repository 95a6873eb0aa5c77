"""In-process caches that keep check evaluation fast on large sites (ADR 005).

- ``SnapshotAccountCache``: a snapshot never changes once written, so its accounts are read
  once per snapshot id and kept (a few snapshots, least recently used first out).
- ``RevisionedCache``: people and identities change; each write stamps a per-organization
  revision (``services.store.revisions``). A reader compares one counter with what it holds
  and fetches only documents written since. Its revision (everything at or below it is held)
  moves forward only when no writer is at work, since reserved documents may not be visible
  yet. Writes made in this process are applied directly (``apply``). An organization's first
  read may come from a checkpoint and what was written since (``current``: ADR 026); entries
  are reloaded whole, every document read, after ``max_age`` as a safety net.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from services.clock import Clock, utcnow
from services.models import RevisionState
from services.sync.models import SnapshotAccount

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class SnapshotAccounts:
    """Every account of one snapshot, by account id order, with indexes by id and by
    lower-cased visible email (built with the snapshot: a targeted identity resolution,
    the first people change of a process included, looks accounts up by email)."""

    snapshot_id: str
    accounts: tuple[SnapshotAccount, ...]
    by_id: dict[str, SnapshotAccount] = field(repr=False)
    # lower-cased email → its account, or its accounts when several share it (a million
    # accounts hold no tuple each, and an email already in lower case is its own key)
    by_email: dict[str, SnapshotAccount | tuple[SnapshotAccount, ...]] = field(repr=False)

    @classmethod
    def of(cls, snapshot_id: str, accounts: Iterable[SnapshotAccount]) -> SnapshotAccounts:
        """Index a snapshot's accounts."""
        ordered = tuple(sorted(accounts, key=lambda a: a.account_id))
        by_email: dict[str, SnapshotAccount | tuple[SnapshotAccount, ...]] = {}
        for account in ordered:
            email = account.email
            if email:
                key = email if email.islower() else email.lower()
                held = by_email.get(key)
                if held is None:
                    by_email[key] = account
                else:
                    by_email[key] = (*held, account) if isinstance(held, tuple) else (held, account)
        return cls(snapshot_id, ordered, {a.account_id: a for a in ordered}, by_email)

    def with_email(self, email_key: str) -> tuple[SnapshotAccount, ...]:
        """The accounts whose visible email, lower-cased, is ``email_key``."""
        held = self.by_email.get(email_key)
        if held is None:
            return ()
        return held if isinstance(held, tuple) else (held,)


AccountLoader = Callable[[str], Awaitable[list[SnapshotAccount]]]


class SnapshotAccountCache:
    """Accounts of recently used snapshots (immutable data, so never invalidated)."""

    def __init__(self, load: AccountLoader, *, max_snapshots: int = 16) -> None:
        self._load = load
        self._max = max_snapshots
        self._entries: OrderedDict[str, asyncio.Future[SnapshotAccounts]] = OrderedDict()

    async def get(self, snapshot_id: str) -> SnapshotAccounts:
        """The snapshot's accounts (one store read per snapshot, shared by concurrent callers)."""
        future = self._entries.get(snapshot_id)
        if future is None:
            future = asyncio.ensure_future(self._read(snapshot_id))
            self._entries[snapshot_id] = future
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(snapshot_id)
        try:
            return await asyncio.shield(future)
        except Exception:
            self._entries.pop(snapshot_id, None)
            raise

    async def _read(self, snapshot_id: str) -> SnapshotAccounts:
        return SnapshotAccounts.of(snapshot_id, await self._load(snapshot_id))


class _View(dict[K, V]):
    """A map readers get: never changed once returned. ``lineage`` and ``generation`` say
    which entry built it and when (``RevisionedCache.changes`` compares two views)."""

    lineage: object
    generation: int


@dataclass
class _Entry(Generic[K, V]):
    revision: int
    loaded_at: datetime
    lineage: object = field(default_factory=object)
    # The map readers get, built once per change and never mutated afterwards.
    view: _View[K, V] | None = None
    # Values put since ``view`` was built, and the seq of every value held above ``floor``:
    # a whole read made while no writer was at work holds, for each key it read, a version at
    # least as new as any written at or below its revision, so its values' seqs are not kept
    # (at a million keys, a dict of a million ints) and count as ``floor`` (``load``).
    pending: dict[K, V] = field(default_factory=dict)
    seqs: dict[K, int] = field(default_factory=dict)
    floor: int = 0
    generation: int = 0
    # (generation, keys changed by it) of the last views; changes since a view older than
    # ``log_from`` are unknown.
    log: deque[tuple[int, frozenset[K]]] = field(default_factory=deque)
    log_from: int = 1
    log_keys: int = 0

    def put(self, key: K, seq: int, value: V) -> None:
        held = self.seqs.get(key)
        if held is None and self.floor and self._loaded(key):
            held = self.floor
        if held is None or held < seq:
            self.seqs[key] = seq
            self.pending[key] = value

    def load(
        self, values: Iterable[tuple[int, V]], key_of: Callable[[V], K], state: RevisionState
    ) -> None:
        """A whole read into this new entry, made after reading ``state``: every document,
        each key once (a key read twice is put as a later write would be). With no writer at
        work then, every write at or below its revision was visible to the read: that is the
        entry's revision and its ``floor``; else both stay 0 (every seq is kept)."""
        floor = 0 if state.writing else state.value
        self.floor = self.revision = floor
        pending, seqs = self.pending, self.seqs
        for seq, value in values:
            key = key_of(value)
            if key in pending:
                self.put(key, seq, value)
                continue
            pending[key] = value
            if seq > floor:
                seqs[key] = seq

    def _loaded(self, key: K) -> bool:
        return key in self.pending or (self.view is not None and key in self.view)

    def current(self) -> _View[K, V]:
        if self.view is not None and not self.pending:
            return self.view
        if self.view is None:  # the first map: everything
            view: _View[K, V] = _View(self.pending)
        else:  # a copy (in C: a few ms for a million keys) with the changed keys replaced
            view = _View(self.view)
            view.update(self.pending)
            changed = frozenset(self.pending)
            self.log.append((self.generation + 1, changed))
            self.log_keys += len(changed)
            self.trim()
        self.generation += 1
        view.lineage, view.generation = self.lineage, self.generation
        self.view, self.pending = view, {}
        return view

    def trim(self) -> None:
        while self.log and (len(self.log) > MAX_LOGGED or self.log_keys > MAX_LOGGED_KEYS):
            generation, keys = self.log.popleft()
            self.log_keys -= len(keys)
            self.log_from = generation + 1

    def changes(self, before: _View[K, V], after: _View[K, V]) -> frozenset[K] | None:
        if before.lineage is not self.lineage or after.lineage is not self.lineage:
            return None
        if before.generation > after.generation:
            return None
        if before.generation == after.generation:
            return frozenset()
        if before.generation + 1 < self.log_from:
            return None
        found: set[K] = set()
        for generation, keys in self.log:
            if before.generation < generation <= after.generation:
                found.update(keys)
        return frozenset(found)


# Changes remembered per entry (for ``RevisionedCache.changes``): views and keys.
MAX_LOGGED = 1024
MAX_LOGGED_KEYS = 200_000


class RevisionedCache(Generic[K, V]):
    """A per-organization map kept current by revision numbers (see the module docstring)."""

    def __init__(
        self,
        *,
        revision: Callable[[str], Awaitable[RevisionState]],
        changed: Callable[[str, int], Awaitable[list[tuple[int, V]]]],
        key: Callable[[V], K],
        current: Callable[[str], Awaitable[list[tuple[int, V]]]] | None = None,
        max_age: timedelta = timedelta(minutes=15),
        max_organizations: int = 256,
        clock: Clock = utcnow,
    ) -> None:
        self._revision = revision
        self._changed = changed
        # an organization's first read (``changed`` from 0 when not given): every value
        self._first = current or (lambda org: changed(org, 0))
        self._key = key
        self._max_age = max_age
        self._max_orgs = max_organizations
        self._clock = clock
        self._entries: OrderedDict[str, _Entry[K, V]] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, organization_id: str) -> Mapping[K, V]:
        """The organization's current map, read-only.

        The same object is returned until something changes (then a new one: a map once
        returned never changes), so callers can key derived data on it (``is``) and ask
        ``changes`` what differs between two of them.
        """
        lock = self._locks.setdefault(organization_id, asyncio.Lock())
        async with lock:
            entry = await self._current(organization_id)
            return entry.current()

    def changes(
        self, organization_id: str, before: Mapping[K, V], after: Mapping[K, V]
    ) -> frozenset[K] | None:
        """The keys whose values may differ between two maps ``get`` returned (in either
        order of time: ``before`` the older), or None when that cannot be told (maps of an
        entry reloaded since, or changes older than what is remembered)."""
        entry = self._entries.get(organization_id)
        if entry is None or not isinstance(before, _View) or not isinstance(after, _View):
            return None
        return entry.changes(before, after)

    def apply(self, organization_id: str, values: Iterable[tuple[int, V]], *, first: int) -> None:
        """A write made here of revisions ``first..`` (each value with its own ``seq``).

        Values replace older ones of the same key. The cache's revision only moves past the
        write when it already held everything before ``first`` (else a read fetches the gap).
        """
        entry = self._entries.get(organization_id)
        if entry is None:
            return
        last = first - 1
        for seq, value in values:
            entry.put(self._key(value), seq, value)
            last = max(last, seq)
        if entry.revision >= first - 1:
            entry.revision = max(entry.revision, last)

    async def _reload(
        self, organization_id: str, entry: _Entry[K, V], state: RevisionState, now: datetime
    ) -> _Entry[K, V]:
        """The safety net: every document read again. The values that differ from the map
        held (compared by value) are logged as one change, so readers of the earlier maps
        can still ask what changed."""
        reloaded: _Entry[K, V] = _Entry(0, now, lineage=entry.lineage)
        reloaded.load(await self._changed(organization_id, 0), self._key, state)
        old = entry.current()
        values = reloaded.pending
        missing = object()
        changed = {k for k, v in values.items() if old.get(k, missing) != v}
        changed.update(k for k in old if k not in values)
        view: _View[K, V] = _View(values)
        reloaded.generation = entry.generation + 1
        view.lineage, view.generation = entry.lineage, reloaded.generation
        reloaded.view, reloaded.pending = view, {}
        reloaded.log, reloaded.log_from, reloaded.log_keys = (
            entry.log,
            entry.log_from,
            entry.log_keys,
        )
        reloaded.log.append((reloaded.generation, frozenset(changed)))
        reloaded.log_keys += len(changed)
        reloaded.trim()
        self._entries[organization_id] = reloaded
        return reloaded

    def forget(self, organization_id: str) -> None:
        """Drop an organization's entry (the next read loads it whole)."""
        self._entries.pop(organization_id, None)

    async def _current(self, organization_id: str) -> _Entry[K, V]:
        state = await self._revision(organization_id)
        entry = self._entries.get(organization_id)
        now = self._clock()
        if entry is not None and now - entry.loaded_at > self._max_age:
            entry = await self._reload(organization_id, entry, state, now)
        fresh = entry is None
        if entry is None:
            entry = _Entry(0, now)
            self._entries[organization_id] = entry
        if fresh:
            entry.load(await self._first(organization_id), self._key, state)
        elif state.writing or state.value > entry.revision:
            for seq, value in await self._changed(organization_id, entry.revision):
                entry.put(self._key(value), seq, value)
            if not state.writing:
                entry.revision = state.value
        self._entries.move_to_end(organization_id)
        while len(self._entries) > self._max_orgs:
            self._entries.popitem(last=False)
        return entry
