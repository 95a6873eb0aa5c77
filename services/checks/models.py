"""Check results as domain values, and their one JSON form.

A ``CheckResult`` and its ``CheckItem`` s travel three ways: stored (``services/store``),
published on the bus (``checkResultUpdated``) and sealed into evidence. All three use the
form defined here (``to_json`` / ``from_json``): camelCase keys, items as
``{"resourceType", "resourceId", "name", "reason"}`` — the form evidence has always sealed,
so existing chains keep verifying. Datetimes stay ``datetime`` objects in the form; each
carrier writes them its own way (BSON dates in the store, canonical ISO-8601 in evidence,
``isoformat`` text on the bus) and ``from_json`` reads either.

This module is a leaf: it imports nothing from the store or the services.
"""

from __future__ import annotations

import enum
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

ItemJson = dict[str, str | None]


class CheckStatus(enum.StrEnum):
    """The outcome of a check (SPEC §6)."""

    PASSING = "PASSING"
    FAILING = "FAILING"
    NOT_MONITORED = "NOT_MONITORED"
    ERROR = "ERROR"


@dataclass(frozen=True, slots=True)
class CheckItem:
    """One failing (or excepted) resource: ``account``, ``access_review``, ``policy``…"""

    resource_type: str
    resource_id: str
    name: str | None
    reason: str

    def to_json(self) -> ItemJson:
        """``{"resourceType", "resourceId", "name", "reason"}``."""
        return {
            "resourceType": self.resource_type,
            "resourceId": self.resource_id,
            "name": self.name,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> CheckItem:
        """The item ``to_json`` wrote."""
        return cls(
            resource_type=raw["resourceType"],
            resource_id=raw["resourceId"],
            name=raw.get("name"),
            reason=raw["reason"],
        )


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The stored outcome of one evaluation of one check for one organization."""

    organization_id: str
    check_id: str
    status: CheckStatus
    reason: str | None
    failing_items: tuple[CheckItem, ...]
    excepted_items: tuple[CheckItem, ...]
    evaluated_at: datetime
    changed_at: datetime
    data_as_of: datetime | None = None
    snapshot_id: str | None = None
    evidence_id: str | None = None
    id: str | None = None
    # When the status last changed; ``changed_at`` moves at every recorded change (status,
    # failing or excepted items). None: recorded before it was kept (then ``changed_at``).
    status_changed_at: datetime | None = None
    # A limit of what the evaluation could see (``Outcome.note``); kept current like
    # ``reason`` (not part of the digest).
    note: str | None = None

    @property
    def status_since(self) -> datetime:
        """When the status last changed (``changed_at`` for results recorded before)."""
        return self.status_changed_at or self.changed_at

    @property
    def digest(self) -> str:
        """Hash of what makes two outcomes differ: status, failing and excepted items."""
        return outcome_digest(self.status, self.failing_items, self.excepted_items)

    def to_json(self) -> dict[str, Any]:
        """The result's one JSON form (datetimes left to the carrier, see the module doc);
        ``note`` only when there is one (so results without one keep their form)."""
        form: dict[str, Any] = {
            "organizationId": self.organization_id,
            "checkId": self.check_id,
            "id": self.id,
            "status": self.status.value,
            "reason": self.reason,
            "failingItems": items_to_json(self.failing_items),
            "exceptedItems": items_to_json(self.excepted_items),
            "evaluatedAt": self.evaluated_at,
            "changedAt": self.changed_at,
            "statusChangedAt": self.status_changed_at,
            "dataAsOf": self.data_as_of,
            "snapshotId": self.snapshot_id,
            "evidenceId": self.evidence_id,
        }
        if self.note is not None:
            form["note"] = self.note
        return form

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> CheckResult:
        """The result ``to_json`` wrote; datetimes as ``datetime`` or ISO-8601 text."""
        evaluated_at = _time(raw["evaluatedAt"])
        changed_at = _time(raw["changedAt"])
        if evaluated_at is None or changed_at is None:
            raise ValueError("a check result needs evaluatedAt and changedAt")
        return cls(
            organization_id=raw["organizationId"],
            check_id=raw["checkId"],
            status=CheckStatus(raw["status"]),
            reason=raw.get("reason"),
            failing_items=items_from_json(raw.get("failingItems")),
            excepted_items=items_from_json(raw.get("exceptedItems")),
            evaluated_at=evaluated_at,
            changed_at=changed_at,
            data_as_of=_time(raw.get("dataAsOf")),
            snapshot_id=raw.get("snapshotId"),
            evidence_id=raw.get("evidenceId"),
            id=raw.get("id"),
            status_changed_at=_time(raw.get("statusChangedAt")),
            note=raw.get("note"),
        )


def items_to_json(items: Sequence[CheckItem]) -> list[ItemJson]:
    """The JSON form of a list of items."""
    return [i.to_json() for i in items]


def items_from_json(raw: Sequence[Mapping[str, Any]] | None) -> tuple[CheckItem, ...]:
    """The items ``items_to_json`` wrote (None reads as none)."""
    return tuple(CheckItem.from_json(i) for i in raw or ())


def _time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


DIGEST_VERSION = "2:"
_MOD = 1 << 256
# Sums of recently computed item tuples, by tuple (see ``items_sum``); bounded by items held.
_SUMS: OrderedDict[int, tuple[tuple[CheckItem, ...], int]] = OrderedDict()
_SUMS_LOCK = threading.Lock()
_SUMS_MAX_ITEMS = 4_000_000
_sums_held = 0


def item_hash(item: CheckItem) -> int:
    """The hash of what makes an item count in a digest: type, resource id and reason (its
    display name does not), as a 256-bit number."""
    t, r, why = item.resource_type, item.resource_id, item.reason
    row = f"{len(t)}:{t}{len(r)}:{r}{why}"
    return int.from_bytes(hashlib.sha256(row.encode()).digest(), "big")


def items_sum(items: Sequence[CheckItem]) -> int:
    """The sum of the items' hashes (mod 2^256): a hash of the items as a multiset, which a
    change of one item moves by that item's hash alone. Known sums (``remember_sum``) of a
    tuple are not computed again."""
    if isinstance(items, tuple):
        with _SUMS_LOCK:
            held = _SUMS.get(id(items))
            if held is not None and held[0] is items:
                _SUMS.move_to_end(id(items))
                return held[1]
    total = sum(map(item_hash, items)) % _MOD
    if isinstance(items, tuple) and len(items) > 64:
        remember_sum(items, total)
    return total


def remember_sum(items: tuple[CheckItem, ...], total: int) -> None:
    """Record ``items_sum(items)``, computed by whoever built ``items`` from a tuple it knew
    the sum of (an incremental evaluation), so that digests of large results cost nothing."""
    global _sums_held
    with _SUMS_LOCK:
        old = _SUMS.pop(id(items), None)
        if old is not None:
            _sums_held -= len(old[0])
        _SUMS[id(items)] = (items, total % _MOD)
        _sums_held += len(items)
        while _sums_held > _SUMS_MAX_ITEMS and len(_SUMS) > 1:
            _, (dropped, _) = _SUMS.popitem(last=False)
            _sums_held -= len(dropped)


def outcome_digest(
    status: CheckStatus, failing: Sequence[CheckItem], excepted: Sequence[CheckItem]
) -> str:
    """What makes two outcomes differ: status, and failing and excepted items as multisets of
    (type, resource id, reason) — order and display names do not matter. ``2:`` and a
    SHA-256 over the status and both sums (``items_sum``)."""
    payload = f"{status.value}:{items_sum(failing):064x}:{items_sum(excepted):064x}"
    return DIGEST_VERSION + hashlib.sha256(payload.encode()).hexdigest()


def legacy_digest(
    status: CheckStatus, failing: Sequence[CheckItem], excepted: Sequence[CheckItem]
) -> str:
    """The digest results were stored with before ``outcome_digest``: sha256 of the sorted
    rows, as JSON (read only to compare with a result stored then)."""

    def rows(items: Sequence[CheckItem]) -> list[list[str]]:
        return sorted([i.resource_type, i.resource_id, i.reason] for i in items)

    payload = json.dumps([status.value, rows(failing), rows(excepted)], separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def same_outcome(stored_digest: str | None, result: CheckResult) -> bool:
    """Whether a stored digest (of either form) is the digest of ``result``'s outcome."""
    if stored_digest is None:
        return False
    if stored_digest.startswith(DIGEST_VERSION):
        return stored_digest == result.digest
    return stored_digest == legacy_digest(
        result.status, result.failing_items, result.excepted_items
    )


@dataclass(frozen=True, slots=True)
class ResultView:
    """A result as a reader shows it: with its items, or without them and with their counts
    (``failing_count`` / ``excepted_count``; then read them from the store by ``result.id``,
    a page at a time). None means the result carries those items itself."""

    result: CheckResult
    failing_count: int | None = None
    excepted_count: int | None = None


@dataclass(frozen=True, slots=True)
class StoredState:
    """What the engine compares against: the latest result without its items.

    ``unrecorded_digest`` / ``unrecorded_at``: the result is an ERROR standing for an
    outcome (that digest) which could not be recorded at that time.
    """

    check_id: str
    version: int
    digest: str
    status: CheckStatus
    changed_at: datetime
    evidence_id: str | None
    reason: str | None = None
    status_changed_at: datetime | None = None
    unrecorded_digest: str | None = None
    unrecorded_at: datetime | None = None
