"""Access checks judged account by account — and, after a change, only where it touched.

Four access checks (offboarded access, identified, access validity, MFA) conclude from one
verdict per account: whether it fails, on its own account data, identity, person, the latest
completed review's decisions and the critical system's rule. Such a check (``JudgedCheck``)
defines:

- ``gate(data)``: the outcome that judges no account (a missing prerequisite), or None;
- ``judge(data, account)``: the account's failing item, or None;
- ``deadline(data, account)``: when time alone may change that verdict (None: it cannot; only
  the offboarding grace period has one);
- ``passing``: the reason when nothing fails.

``evaluate(data)`` judges every account: the check's definition. ``evaluate_from(data, held)``
(the engine's ``IncrementalCheck``) gives the same outcome from the verdicts held after the
previous evaluation of the organization: it judges again the accounts whose inputs changed
since (``AccessData.changed_accounts``) and those whose deadline passed, and splices their
items into the sorted ones held; it judges every account when it holds nothing, or when the
change cannot be told (another snapshot, rule or review). A verdict that did not change
keeps its very item object, so the chunks the store and evidence cut from the items are
reused (``services.chunking``); the items' digest sum moves by the changed items alone
(``services.checks.models.items_sum``).
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain

from services.checks.access.changes import DataVersion
from services.checks.access.data import AccessData
from services.checks.access.gate import conclude_sorted, not_monitored
from services.checks.base import Outcome
from services.checks.models import CheckItem, item_hash, items_sum, remember_sum
from services.sync.models import SnapshotAccount

_MOD = 1 << 256


@dataclass
class Verdicts:
    """What a judged check holds between evaluations of one organization: the failing items
    by account id and sorted, their digest sum, the deadlines, and the data they are of."""

    version: DataVersion | None
    now: datetime
    failing: dict[str, CheckItem]
    items: tuple[CheckItem, ...]
    ids: list[str]
    total: int
    deadlines: dict[str, datetime] = field(default_factory=dict)
    heap: list[tuple[datetime, str]] = field(default_factory=list)
    judged: int = 0  # accounts judged for the last evaluation (tests and benchmarks)


class JudgedCheck:
    """An access check whose outcome is one verdict per account (see the module docstring)."""

    passing: str = "nothing fails"

    def gate(self, data: AccessData) -> Outcome | None:
        """The outcome when a prerequisite is missing (no account is judged), else None."""
        return not_monitored(data)

    def judge(self, data: AccessData, account: SnapshotAccount) -> CheckItem | None:
        """The account's failing item, or None."""
        raise NotImplementedError

    def deadline(self, data: AccessData, account: SnapshotAccount) -> datetime | None:
        """When the account's verdict may change with time alone (after that instant)."""
        return None

    has_deadlines = False

    def evaluate(self, data: AccessData) -> Outcome:
        """Pure evaluation: every account judged."""
        blocked = self.gate(data)
        if blocked is not None:
            return blocked
        return self._outcome(data, self._judge_all(data))

    def evaluate_from(
        self, data: AccessData, held: Verdicts | None
    ) -> tuple[Outcome, Verdicts | None]:
        """``evaluate(data)``'s outcome from the verdicts ``held`` (see the module docstring);
        and the verdicts to hold for the next evaluation."""
        blocked = self.gate(data)
        if blocked is not None:
            return blocked, None
        changed = data.changed_accounts(held.version) if held is not None else None
        if held is None or changed is None or data.now < held.now:
            verdicts = self._judge_all(data)
        else:
            verdicts = self._judge_again(data, held, changed)
        return self._outcome(data, verdicts), verdicts

    def _outcome(self, data: AccessData, verdicts: Verdicts) -> Outcome:
        remember_sum(verdicts.items, verdicts.total)
        return conclude_sorted(data, verdicts.items, passing=self.passing)

    def _judge_all(self, data: AccessData) -> Verdicts:
        judge, deadline = self.judge, self.deadline
        failing: dict[str, CheckItem] = {}
        deadlines: dict[str, datetime] = {}
        for account in data.accounts:
            item = judge(data, account)
            if item is not None:
                failing[account.account_id] = item
            if self.has_deadlines:
                when = deadline(data, account)
                if when is not None:
                    deadlines[account.account_id] = when
        items = tuple(sorted(failing.values(), key=lambda i: i.resource_id))
        heap = [(when, account_id) for account_id, when in deadlines.items()]
        heapq.heapify(heap)
        return Verdicts(
            version=data.version,
            now=data.now,
            failing=failing,
            items=items,
            ids=[i.resource_id for i in items],
            total=items_sum(items),
            deadlines=deadlines,
            heap=heap,
            judged=len(data.accounts),
        )

    def _judge_again(self, data: AccessData, held: Verdicts, changed: Iterable[str]) -> Verdicts:
        """The held verdicts with the ``changed`` accounts, and those whose deadline passed,
        judged again (the held object is updated and returned)."""
        touched = set(changed)
        heap, deadlines = held.heap, held.deadlines
        while heap and heap[0][0] < data.now:
            when, account_id = heapq.heappop(heap)
            if deadlines.get(account_id) == when:
                del deadlines[account_id]
                touched.add(account_id)
        by_id = data.accounts_by_id
        replaced: dict[str, CheckItem | None] = {}
        for account_id in touched:
            account = by_id.get(account_id)
            item = self.judge(data, account) if account is not None else None
            if self.has_deadlines:
                due = self.deadline(data, account) if account is not None else None
                if due is None:
                    deadlines.pop(account_id, None)
                elif deadlines.get(account_id) != due:
                    deadlines[account_id] = due
                    heapq.heappush(heap, (due, account_id))
            old = held.failing.get(account_id)
            if item == old:
                continue  # the same verdict keeps its item object
            replaced[account_id] = item
            if item is None:
                del held.failing[account_id]
            else:
                held.failing[account_id] = item
            held.total = (
                held.total + (item_hash(item) if item else 0) - (item_hash(old) if old else 0)
            ) % _MOD
        if replaced:
            held.items, held.ids = _spliced(held.items, held.ids, replaced)
        held.version, held.now, held.judged = data.version, data.now, len(touched)
        return held


def _spliced(
    items: tuple[CheckItem, ...], ids: list[str], replaced: dict[str, CheckItem | None]
) -> tuple[tuple[CheckItem, ...], list[str]]:
    """``items`` (sorted by resource id, ``ids`` theirs) with the item of each replaced id set
    to the given one (None: removed): one pass of slices."""
    parts: list[tuple[CheckItem, ...]] = []
    id_parts: list[list[str]] = []
    previous = 0
    for account_id in sorted(replaced):
        at = bisect_left(ids, account_id, previous)
        parts.append(items[previous:at])
        id_parts.append(ids[previous:at])
        item = replaced[account_id]
        if item is not None:
            parts.append((item,))
            id_parts.append([account_id])
        previous = at + 1 if at < len(ids) and ids[at] == account_id else at
    parts.append(items[previous:])
    id_parts.append(ids[previous:])
    return tuple(chain.from_iterable(parts)), list(chain.from_iterable(id_parts))
