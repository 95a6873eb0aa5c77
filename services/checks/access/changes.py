"""Which accounts' inputs changed between two loads of an organization's access data.

The access checks judge each account on its own inputs: the account, its identity, its
person, the review decisions and the critical system's rule. ``AccessDataSource`` keeps one
``ChangeLog`` per organization and *lineage* (the same snapshot, rule and completed review):
each load appends the account ids whose identity or person changed since the load before
(from the directory's caches, which know which keys a change touched). A check that judged
the data of generation ``g`` asks ``since(g)`` which accounts to judge again. Anything the log
cannot tell — a new snapshot, rule or review (a new lineage), changes older than it
remembers, a cache that could not say — is ``None``: judge every account.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

# Loads remembered, and account ids remembered over them.
MAX_ENTRIES = 1024
MAX_IDS = 200_000


class ChangeLog:
    """The account ids changed by each generation of one lineage (thread-safe: checks read
    it in a worker thread while the next load may append)."""

    def __init__(self) -> None:
        self.generation = 0
        self._entries: deque[tuple[int, frozenset[str] | None]] = deque()
        self._ids = 0
        self._from = 1  # changes made by generations before this one are forgotten
        self._lock = threading.Lock()

    def append(self, changed: frozenset[str] | None) -> int:
        """Record the next generation (``None``: anything may have changed); its number."""
        with self._lock:
            self.generation += 1
            self._entries.append((self.generation, changed))
            self._ids += len(changed or ())
            while self._entries and (len(self._entries) > MAX_ENTRIES or self._ids > MAX_IDS):
                generation, ids = self._entries.popleft()
                self._ids -= len(ids or ())
                self._from = generation + 1
            return self.generation

    def between(self, since: int, until: int) -> frozenset[str] | None:
        """The accounts changed by generations ``since + 1`` to ``until`` (None: unknown)."""
        if since > until:
            return None
        if since == until:
            return frozenset()
        with self._lock:
            if since + 1 < self._from:
                return None
            found: set[str] = set()
            for generation, ids in self._entries:
                if since < generation <= until:
                    if ids is None:
                        return None
                    found.update(ids)
        return frozenset(found)


@dataclass(frozen=True, slots=True)
class DataVersion:
    """Which load of access data: a lineage's log and a generation of it."""

    log: ChangeLog
    generation: int

    def changed_since(self, before: DataVersion | None) -> frozenset[str] | None:
        """The accounts whose inputs may differ from the data of ``before`` (None: any)."""
        if before is None or before.log is not self.log:
            return None
        return self.log.between(before.generation, self.generation)
