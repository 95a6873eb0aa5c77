"""Check results: the latest per (organization, check) and the history of changes.

``check_results`` holds one document per check of an organization with a ``version`` that
every write compares and increments, so two processes evaluating at once cannot both record
the same change. ``check_history`` gets one document per change (never updated).

Items are stored in their one JSON form (``CheckItem.to_json``, shared with the bus and
evidence); documents written before hold them with snake_case keys and still read. The
top-level fields keep their snake_case names, which the indexes and queries use.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from services.checks.models import CheckItem, CheckResult, CheckStatus, StoredState, items_to_json
from services.store.common import DuplicateKeyError, new_id, newest_first

_ITEMS = ("failing_items", "excepted_items")


class CheckResultRepository:
    """Persistence of check results and their history."""

    def __init__(self, db: Any) -> None:
        self._latest = db["check_results"]
        self._history = db["check_history"]

    async def ensure_indexes(self) -> None:
        """Latest results by organization; history by check, newest first."""
        await self._latest.create_index("organization_id")
        await self._history.create_index(
            [("organization_id", 1), ("check_id", 1), ("evaluated_at", -1), ("_id", -1)]
        )

    async def states(self, *, organization_id: str) -> dict[str, StoredState]:
        """The latest results' headers of the organization, by check id."""
        projection = {name: 0 for name in _ITEMS}
        cursor = self._latest.find({"organization_id": organization_id}, projection)
        return {
            d["check_id"]: StoredState(
                check_id=d["check_id"],
                version=int(d["version"]),
                digest=d["digest"],
                status=CheckStatus(d["status"]),
                changed_at=d["changed_at"],
                evidence_id=d.get("evidence_id"),
            )
            async for d in cursor
        }

    async def get_latest(self, *, organization_id: str, check_id: str) -> CheckResult | None:
        """The latest result of a check."""
        doc = await self._latest.find_one({"_id": _key(organization_id, check_id)})
        return to_result(doc) if doc else None

    async def list_latest(self, *, organization_id: str) -> list[CheckResult]:
        """The latest result of every evaluated check of the organization."""
        cursor = self._latest.find({"organization_id": organization_id})
        return [to_result(d) async for d in cursor]

    async def list_latest_heads(
        self, *, organization_id: str, check_id: str | None = None
    ) -> list[tuple[CheckResult, int]]:
        """The latest results without their failing items, each with its failing count.

        For paging the items (``failing_page``): the count is the one written with the result,
        so reading it costs neither the items nor a count. A result written before counts
        were kept is read whole once to count it.
        """
        query: dict[str, Any] = (
            {"organization_id": organization_id}
            if check_id is None
            else {"_id": _key(organization_id, check_id)}  # the key names the organization
        )
        cursor = self._latest.find(query, {"failing_items": 0})
        heads = []
        async for d in cursor:
            count = d.get("failing_count")
            if count is None:
                whole = await self._latest.find_one({"_id": d["_id"]}, {"failing_items": 1})
                count = len((whole or {}).get("failing_items") or ())
            heads.append((to_result(d), int(count)))
        return heads

    async def failing_page(
        self, *, organization_id: str, result_id: str, offset: int, limit: int
    ) -> list[CheckItem]:
        """Up to ``limit`` failing items of a recorded result from position ``offset``.

        Read from the result's history document (never updated), sliced by the server, so a
        page costs the same whatever the result's size; empty for an unknown result.
        """
        doc = await self._history.find_one(  # by _id alone: the id lookup on every server
            {"_id": result_id},
            {"failing_items": {"$slice": [offset, limit]}, "excepted_items": 0},
        )
        if doc is None or doc["organization_id"] != organization_id:
            return []
        return list(_to_items(doc.get("failing_items")))

    async def record_change(self, result: CheckResult, *, expected_version: int | None) -> bool:
        """Replace the latest result and append it to the history; False if another won."""
        doc = {**_result_doc(result), "digest": result.digest}
        key = _key(result.organization_id, result.check_id)
        if expected_version is None:
            try:
                await self._latest.insert_one({"_id": key, **doc, "version": 1})
            except DuplicateKeyError:
                return False
        else:
            updated = await self._latest.update_one(
                {"_id": key, "version": expected_version},
                {"$set": {**doc, "version": expected_version + 1}},
            )
            if not updated.matched_count:
                return False
        await self._history.insert_one({"_id": result.id or new_id("res"), **doc})
        return True

    async def touch(self, result: CheckResult, *, expected_version: int) -> bool:
        """Record an evaluation that changed nothing: time, reason, note and data age only."""
        updated = await self._latest.update_one(
            {"_id": _key(result.organization_id, result.check_id), "version": expected_version},
            {
                "$set": {
                    "evaluated_at": result.evaluated_at,
                    "reason": result.reason,
                    "note": result.note,
                    "data_as_of": result.data_as_of,
                    "snapshot_id": result.snapshot_id,
                }
            },
        )
        return bool(updated.matched_count)

    async def list_history(
        self,
        *,
        organization_id: str,
        check_id: str,
        limit: int,
        before: tuple[datetime, str] | None,
    ) -> tuple[list[CheckResult], int]:
        """Up to ``limit`` recorded changes, newest first, older than ``before``; and the total."""
        query: dict[str, Any] = {"organization_id": organization_id, "check_id": check_id}
        total = int(await self._history.count_documents(query))
        docs = await newest_first(self._history, query, "evaluated_at", before, limit)
        return [to_result(d) for d in docs], total


def _key(organization_id: str, check_id: str) -> str:
    return f"{organization_id}:{check_id}"


def _result_doc(r: CheckResult) -> dict[str, Any]:
    return {
        "organization_id": r.organization_id,
        "check_id": r.check_id,
        "result_id": r.id,
        "status": r.status.value,
        "reason": r.reason,
        "note": r.note,
        "failing_items": items_to_json(r.failing_items),
        "failing_count": len(r.failing_items),
        "excepted_items": items_to_json(r.excepted_items),
        "evaluated_at": r.evaluated_at,
        "changed_at": r.changed_at,
        "data_as_of": r.data_as_of,
        "snapshot_id": r.snapshot_id,
        "evidence_id": r.evidence_id,
    }


def _to_items(raw: Any) -> tuple[CheckItem, ...]:
    """Items in their JSON form; documents written before it hold snake_case keys."""
    return tuple(
        CheckItem.from_json(i) if "resourceId" in i else _legacy_item(i) for i in raw or ()
    )


def _legacy_item(raw: Mapping[str, Any]) -> CheckItem:
    return CheckItem(
        resource_type=raw["resource_type"],
        resource_id=raw["resource_id"],
        name=raw.get("name"),
        reason=raw["reason"],
    )


def to_result(doc: Mapping[str, Any]) -> CheckResult:
    """The domain object for a stored result (latest or history)."""
    return CheckResult(
        organization_id=doc["organization_id"],
        check_id=doc["check_id"],
        status=CheckStatus(doc["status"]),
        reason=doc.get("reason"),
        failing_items=_to_items(doc.get("failing_items")),
        excepted_items=_to_items(doc.get("excepted_items")),
        evaluated_at=doc["evaluated_at"],
        changed_at=doc["changed_at"],
        data_as_of=doc.get("data_as_of"),
        snapshot_id=doc.get("snapshot_id"),
        evidence_id=doc.get("evidence_id"),
        id=doc.get("result_id"),
        note=doc.get("note"),
    )


__all__ = ["CheckResultRepository"]
