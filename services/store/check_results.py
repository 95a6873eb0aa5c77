"""Check results: the latest per (organization, check), the history of changes, their items.

``check_results`` holds one header per check of an organization with a ``version`` that
every write compares and increments, so two processes evaluating at once cannot both record
the same change. ``check_history`` gets one header per change (never updated). Neither holds
items: a result's failing and excepted items are in ``check_items``, ``ITEMS_PER_DOC`` per
document under ``_id`` ``<result id>:<f|e>:<position of its first item, 9 digits>``, so a
header stays a few hundred bytes whatever the number of items (100,000 failing
accounts made a 15 MB header), a page of items is one lookup of at most two ``_id`` s, and
the latest result and its history entry share one copy of the items.

Items are stored in their one JSON form (``CheckItem.to_json``, shared with the bus and
evidence). Headers written before evidence format 2 hold their items inline
(``failing_items`` / ``excepted_items``, older ones with snake_case keys) and still read.
The top-level fields keep their snake_case names, which the indexes and queries use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from services.checks.models import (
    CheckItem,
    CheckResult,
    CheckStatus,
    ResultView,
    StoredState,
    items_to_json,
)
from services.errors import DocumentTooLarge
from services.store.common import DuplicateKeyError, insert_missing, new_id, newest_first

_INLINE = ("failing_items", "excepted_items")  # headers written before evidence format 2
FAILING, EXCEPTED = "f", "e"
ITEMS_PER_DOC = 500  # a page (at most 500 + 1 items) spans at most two documents


class CheckResultRepository:
    """Persistence of check results, their history and their items."""

    def __init__(self, db: Any) -> None:
        self._latest = db["check_results"]
        self._history = db["check_history"]
        self._items = db["check_items"]

    async def ensure_indexes(self) -> None:
        """Latest results by organization; history by check, newest first (items by _id)."""
        await self._latest.create_index("organization_id")
        await self._history.create_index(
            [("organization_id", 1), ("check_id", 1), ("evaluated_at", -1), ("_id", -1)]
        )

    async def states(self, *, organization_id: str) -> dict[str, StoredState]:
        """The latest results' headers of the organization, by check id."""
        projection = {name: 0 for name in _INLINE}
        cursor = self._latest.find({"organization_id": organization_id}, projection)
        return {
            d["check_id"]: StoredState(
                check_id=d["check_id"],
                version=int(d["version"]),
                digest=d["digest"],
                status=CheckStatus(d["status"]),
                changed_at=d["changed_at"],
                evidence_id=d.get("evidence_id"),
                reason=d.get("reason"),
                status_changed_at=d.get("status_changed_at"),
                unrecorded_digest=d.get("unrecorded_digest"),
                unrecorded_at=d.get("unrecorded_at"),
            )
            async for d in cursor
        }

    async def get_latest(self, *, organization_id: str, check_id: str) -> CheckResult | None:
        """The latest result of a check, with its items."""
        doc = await self._latest.find_one({"_id": _key(organization_id, check_id)})
        return await self._whole(doc) if doc else None

    async def list_latest(self, *, organization_id: str) -> list[CheckResult]:
        """The latest result of every evaluated check of the organization, with its items."""
        cursor = self._latest.find({"organization_id": organization_id})
        return [await self._whole(d) async for d in cursor]

    async def list_latest_heads(
        self, *, organization_id: str, check_id: str | None = None
    ) -> list[ResultView]:
        """The latest results without their items, each with its counts.

        For paging the items (``failing_page``, ``excepted_items``): the counts are the ones
        written with the result, so reading them costs neither the items nor a count. A
        result written before counts were kept is read whole once to count it.
        """
        query: dict[str, Any] = (
            {"organization_id": organization_id}
            if check_id is None
            else {"_id": _key(organization_id, check_id)}  # the key names the organization
        )
        return [await self._head(self._latest, d) async for d in self._latest.find(query, _HEAD)]

    async def failing_page(
        self, *, organization_id: str, result_id: str, offset: int, limit: int
    ) -> list[CheckItem]:
        """Up to ``limit`` failing items of a recorded result from position ``offset``.

        The ``check_items`` documents of those positions (at most two for a page of up to 500
        items), so a page costs the same whatever the result's size; a result written with
        its items inline is sliced by the server. Empty for an unknown result or one of
        another organization.
        """
        if limit <= 0:
            return []
        docs = await self._buckets(organization_id, result_id, FAILING, offset, offset + limit)
        if docs:
            items = [i for d in docs for i in d["items"]]
            skip = offset - int(docs[0]["start"])
            return list(_to_items(items[skip : skip + limit]))
        doc = await self._history.find_one(  # by _id alone: the id lookup on every server
            {"_id": result_id},
            {"failing_items": {"$slice": [offset, limit]}, "excepted_items": 0},
        )
        if doc is None or doc["organization_id"] != organization_id:
            return []
        return list(_to_items(doc.get("failing_items")))

    async def excepted_items(
        self, *, organization_id: str, result_id: str
    ) -> tuple[CheckItem, ...]:
        """Every excepted item of a recorded result (empty for an unknown one)."""
        doc = await self._history.find_one({"_id": result_id}, {"failing_items": 0})
        if doc is None or doc["organization_id"] != organization_id:
            return ()
        if not doc.get("items_apart"):
            return _to_items(doc.get("excepted_items"))
        count = int(doc.get("excepted_count") or 0)
        docs = await self._buckets(organization_id, result_id, EXCEPTED, 0, count)
        return _to_items([i for d in docs for i in d["items"]])

    async def record_change(
        self,
        result: CheckResult,
        *,
        expected_version: int | None,
        unrecorded: tuple[str, datetime] | None = None,
    ) -> bool:
        """Replace the latest result and append it to the history; False if another won.

        The items are written first (under the result's id, never changed afterwards), so a
        header is never visible before its items. ``unrecorded`` marks an ERROR result
        standing for an outcome that could not be recorded (its digest, and when).
        """
        rid = result.id or new_id("res")
        doc = {**_result_doc(result, rid), "digest": result.digest}
        doc["unrecorded_digest"], doc["unrecorded_at"] = unrecorded or (None, None)
        try:
            await self._write_items(result, rid)
        except DocumentTooLarge:  # nothing refers to the documents written before it
            await self._drop_items(result, rid)
            raise
        key = _key(result.organization_id, result.check_id)
        if expected_version is None:
            try:
                await self._latest.insert_one({"_id": key, **doc, "version": 1})
            except DuplicateKeyError:
                await self._drop_items(result, rid)
                return False
        else:
            updated = await self._latest.update_one(
                {"_id": key, "version": expected_version},
                {"$set": {**doc, "version": expected_version + 1}},
            )
            if not updated.matched_count:
                await self._drop_items(result, rid)
                return False
        await self._history.insert_one({"_id": rid, **doc})
        return True

    async def touch(
        self,
        result: CheckResult,
        *,
        expected_version: int,
        unrecorded: tuple[str, datetime] | None = None,
    ) -> bool:
        """Record an evaluation that changed nothing: time, reason, note and data age only (and,
        for an ERROR standing for an unrecordable outcome, that outcome's digest and time)."""
        fields: dict[str, Any] = {
            "evaluated_at": result.evaluated_at,
            "reason": result.reason,
            "note": result.note,
            "data_as_of": result.data_as_of,
            "snapshot_id": result.snapshot_id,
        }
        if unrecorded is not None:
            fields["unrecorded_digest"], fields["unrecorded_at"] = unrecorded
        updated = await self._latest.update_one(
            {"_id": _key(result.organization_id, result.check_id), "version": expected_version},
            {"$set": fields},
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
        """Up to ``limit`` recorded changes with their items, newest first, older than
        ``before``; and the total."""
        docs, total = await self._history_page(organization_id, check_id, limit, before, None)
        return [await self._whole(d) for d in docs], total

    async def list_history_heads(
        self,
        *,
        organization_id: str,
        check_id: str,
        limit: int,
        before: tuple[datetime, str] | None,
    ) -> tuple[list[ResultView], int]:
        """As ``list_history``, without the items: each result with its counts."""
        docs, total = await self._history_page(organization_id, check_id, limit, before, _HEAD)
        return [await self._head(self._history, d) for d in docs], total

    async def _history_page(
        self,
        organization_id: str,
        check_id: str,
        limit: int,
        before: tuple[datetime, str] | None,
        projection: Mapping[str, Any] | None,
    ) -> tuple[list[Mapping[str, Any]], int]:
        query: dict[str, Any] = {"organization_id": organization_id, "check_id": check_id}
        total = int(await self._history.count_documents(query))
        docs = await newest_first(self._history, query, "evaluated_at", before, limit, projection)
        return docs, total

    async def _whole(self, doc: Mapping[str, Any]) -> CheckResult:
        """The result of a header with its items (inline in headers written before)."""
        if not doc.get("items_apart"):
            return to_result(doc)
        org, rid = doc["organization_id"], doc["result_id"]
        failing: tuple[CheckItem, ...] = ()
        excepted: tuple[CheckItem, ...] = ()
        if doc.get("failing_count"):
            docs = await self._buckets(org, rid, FAILING, 0, int(doc["failing_count"]))
            failing = _to_items([i for d in docs for i in d["items"]])
        if doc.get("excepted_count"):
            docs = await self._buckets(org, rid, EXCEPTED, 0, int(doc["excepted_count"]))
            excepted = _to_items([i for d in docs for i in d["items"]])
        return to_result(doc, failing=failing, excepted=excepted)

    async def _head(self, collection: Any, doc: Mapping[str, Any]) -> ResultView:
        """A header without items, with its counts (a header written before counts were
        kept is read whole once to count its inline items)."""
        failing, excepted = doc.get("failing_count"), doc.get("excepted_count")
        if failing is None or excepted is None:
            whole = await collection.find_one({"_id": doc["_id"]}, dict.fromkeys(_INLINE, 1))
            failing = len((whole or {}).get("failing_items") or ())
            excepted = len((whole or {}).get("excepted_items") or ())
        head = to_result(doc, failing=(), excepted=())
        return ResultView(head, failing_count=int(failing), excepted_count=int(excepted))

    async def _write_items(self, result: CheckResult, rid: str) -> None:
        docs = [
            {
                "_id": _item_key(rid, kind, start),
                "organization_id": result.organization_id,
                "result_id": rid,
                "start": start,
                "items": items_to_json(items[start : start + ITEMS_PER_DOC]),
            }
            for kind, items in ((FAILING, result.failing_items), (EXCEPTED, result.excepted_items))
            for start in range(0, len(items), ITEMS_PER_DOC)
        ]
        for first in range(0, len(docs), 100):  # a result's items never change: once is enough
            await insert_missing(self._items, docs[first : first + 100])

    async def _drop_items(self, result: CheckResult, rid: str) -> None:
        """The items of a result another process recorded first, unless that very result is
        recorded (then they are its items)."""
        if await self._history.find_one({"_id": rid}, {"_id": 1}) is not None:
            return
        keys = _item_keys(rid, FAILING, 0, len(result.failing_items))
        keys += _item_keys(rid, EXCEPTED, 0, len(result.excepted_items))
        if keys:
            await self._items.delete_many({"_id": {"$in": keys}})

    async def _buckets(
        self, organization_id: str, rid: str, kind: str, start: int, end: int
    ) -> list[Mapping[str, Any]]:
        """The item documents of ``kind`` holding positions ``start`` to ``end`` (exclusive),
        in order: looked up by their exact ``_id`` s alone (an ``$in`` on ``_id`` is an index
        lookup on every server; a range, or another condition beside it, made SecantusDB scan
        the collection), the organization checked here."""
        keys = _item_keys(rid, kind, start, end)
        if not keys:
            return []
        found = {d["_id"]: d async for d in self._items.find({"_id": {"$in": keys}})}
        docs = [found[k] for k in keys if k in found]
        return [d for d in docs if d.get("organization_id") == organization_id]


_HEAD = dict.fromkeys(_INLINE, 0)


def _key(organization_id: str, check_id: str) -> str:
    return f"{organization_id}:{check_id}"


def _item_key(rid: str, kind: str, start: int) -> str:
    return f"{rid}:{kind}:{start:09d}"


def _item_keys(rid: str, kind: str, start: int, end: int) -> list[str]:
    first = start - start % ITEMS_PER_DOC
    return [_item_key(rid, kind, s) for s in range(first, end, ITEMS_PER_DOC)]


def _result_doc(r: CheckResult, rid: str) -> dict[str, Any]:
    return {
        "organization_id": r.organization_id,
        "check_id": r.check_id,
        "result_id": rid,
        "status": r.status.value,
        "reason": r.reason,
        "items_apart": True,
        "note": r.note,
        "failing_count": len(r.failing_items),
        "excepted_count": len(r.excepted_items),
        "evaluated_at": r.evaluated_at,
        "changed_at": r.changed_at,
        "status_changed_at": r.status_changed_at,
        "data_as_of": r.data_as_of,
        "snapshot_id": r.snapshot_id,
        "evidence_id": r.evidence_id,
    }


def _to_items(raw: Sequence[Mapping[str, Any]] | None) -> tuple[CheckItem, ...]:
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


def to_result(
    doc: Mapping[str, Any],
    *,
    failing: tuple[CheckItem, ...] | None = None,
    excepted: tuple[CheckItem, ...] | None = None,
) -> CheckResult:
    """The domain object for a stored header (latest or history); its items are the given
    ones, else those held inline (headers written before evidence format 2)."""
    return CheckResult(
        organization_id=doc["organization_id"],
        check_id=doc["check_id"],
        status=CheckStatus(doc["status"]),
        reason=doc.get("reason"),
        failing_items=failing if failing is not None else _to_items(doc.get("failing_items")),
        excepted_items=excepted if excepted is not None else _to_items(doc.get("excepted_items")),
        evaluated_at=doc["evaluated_at"],
        changed_at=doc["changed_at"],
        data_as_of=doc.get("data_as_of"),
        snapshot_id=doc.get("snapshot_id"),
        evidence_id=doc.get("evidence_id"),
        id=doc.get("result_id"),
        status_changed_at=doc.get("status_changed_at"),
        note=doc.get("note"),
    )


__all__ = ["ITEMS_PER_DOC", "CheckResultRepository"]
