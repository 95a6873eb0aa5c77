"""Check results: the latest per (organization, check), the history of changes, their items.

``check_results`` holds one header per check of an organization with a ``version`` that
every write compares and increments, so two processes evaluating at once cannot both record
the same change. ``check_history`` gets one header per change (never updated). Neither holds
items, so a header stays a few hundred bytes whatever the number of items (100,000 failing
accounts made a 15 MB header).

A result's failing and excepted items are lists in ``check_items``, content-addressed like
evidence lists (ADR 011, ADR 022): each list is cut into **chunks** of consecutive items
(``services.chunking``: boundaries follow content, at most ``MAX_CHUNK_ITEMS`` items and
``MAX_CHUNK_CHARS`` characters), each stored once under ``<org>:c:<sha256 of its text>``
as ``{organization_id, items}``, and one **manifest** ``<org>:m:<sha256>`` lists them with
their counts (``{organization_id, chunks: [[sha256, count]…], count}``). The header names the
manifests (``failing_list``, ``excepted_list``). A result that differs from the one before in
one account shares every chunk but one or two with it: recording it writes those chunks, a
manifest and the header — whatever the number of items — and the latest result, its history
entry and the results before share one copy of everything unchanged. The repository re-cuts a
list from the previous cutting of the same check's list in this process (items are compared
by object) and remembers which chunks it stored, so it neither hashes nor sends the others.
A page of items reads the header, the manifest (kept in a small cache: manifests never
change) and the chunks of its positions, by exact ``_id`` s.

Items are stored in their one JSON form (``CheckItem.to_json``, shared with the bus and
evidence). Headers written before still read: with items in ``ITEMS_PER_DOC``-item documents
under ``<result id>:<f|e>:<first position, 9 digits>`` (``items_apart`` without lists), or
with items inline (``failing_items`` / ``excepted_items``, older ones with snake_case keys).
The top-level fields keep their snake_case names, which the indexes and queries use.
"""

from __future__ import annotations

import hashlib
import json
from bisect import bisect_left, bisect_right
from collections import OrderedDict
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
from services.chunking import Chunker, Cutting, content_cut
from services.store.common import from_doc, insert_missing, insert_new, new_id, newest_first

_INLINE = ("failing_items", "excepted_items")  # headers written before evidence format 2
FAILING, EXCEPTED = "f", "e"
_LIST_FIELD = {FAILING: "failing_list", EXCEPTED: "excepted_list"}
_COUNT_FIELD = {FAILING: "failing_count", EXCEPTED: "excepted_count"}
ITEMS_PER_DOC = 500  # items per document of results written before chunked lists
# Chunks of items: about 200 items on average (a 500-item page reads three or four of them),
# never more than 500 items or 64 Ki characters (about 100 KB of BSON).
MAX_CHUNK_ITEMS = 500
MAX_CHUNK_CHARS = 64 * 1024
TARGET_CHUNK_CHARS = 32 * 1024
# Remembered in this process: the last cutting per (organization, check, list), the chunks
# stored, the manifests read.
CUTTINGS = 1024
STORED_CHUNKS = 200_000
MANIFESTS = 256
READ_BATCH = 64


class CheckResultRepository:
    """Persistence of check results, their history and their items."""

    def __init__(self, db: Any) -> None:
        self._latest = db["check_results"]
        self._history = db["check_history"]
        self._items = db["check_items"]
        self._chunker = Chunker(
            _item_text,
            cut=content_cut(TARGET_CHUNK_CHARS),
            max_chars=MAX_CHUNK_CHARS,
            max_count=MAX_CHUNK_ITEMS,
            keep_text=False,
        )
        self._cuttings: OrderedDict[tuple[str, str, str], Cutting] = OrderedDict()
        self._stored: OrderedDict[str, None] = OrderedDict()
        self._manifests: OrderedDict[str, tuple[list[str], list[int]]] = OrderedDict()
        self.chunks_written = 0  # chunk documents written (tests and benchmarks)

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

        The chunks of those positions (a few for a page of up to 500 items), so a page costs
        the same whatever the result's size; a result written with its items inline is sliced
        by the server. Empty for an unknown result or one of another organization.
        """
        if limit <= 0:
            return []
        doc = await self._history.find_one(  # by _id alone: the id lookup on every server
            {"_id": result_id},
            {"failing_items": {"$slice": [offset, limit]}, "excepted_items": 0},
        )
        if doc is None or doc["organization_id"] != organization_id:
            return []
        if doc.get("failing_list"):
            return list(await self._list(doc, FAILING, offset, offset + limit))
        if doc.get("items_apart"):
            docs = await self._buckets(organization_id, result_id, FAILING, offset, offset + limit)
            items = [i for d in docs for i in d["items"]]
            skip = offset - int(docs[0]["start"]) if docs else 0
            return list(_to_items(items[skip : skip + limit]))
        return list(_to_items(doc.get("failing_items")))

    async def excepted_items(
        self, *, organization_id: str, result_id: str
    ) -> tuple[CheckItem, ...]:
        """Every excepted item of a recorded result (empty for an unknown one)."""
        doc = await self._history.find_one({"_id": result_id}, {"failing_items": 0})
        if doc is None or doc["organization_id"] != organization_id:
            return ()
        return await self._all(doc, EXCEPTED)

    async def record_change(
        self,
        result: CheckResult,
        *,
        expected_version: int | None,
        unrecorded: tuple[str, datetime] | None = None,
    ) -> bool:
        """Replace the latest result and append it to the history; False if another won.

        The items are written first (chunks, then manifests: never changed afterwards), so
        a header is never visible before its items. ``unrecorded`` marks an ERROR result
        standing for an outcome that could not be recorded (its digest, and when). A process
        that loses the compare-and-set leaves its chunks (content-addressed: they may be the
        winner's too; unreferenced ones are harmless).
        """
        rid = result.id or new_id("res")
        doc = {**_result_doc(result, rid), "digest": result.digest}
        doc["unrecorded_digest"], doc["unrecorded_at"] = unrecorded or (None, None)
        for kind, items in ((FAILING, result.failing_items), (EXCEPTED, result.excepted_items)):
            doc[_LIST_FIELD[kind]] = await self._write_list(result, kind, items)
        key = _key(result.organization_id, result.check_id)
        if expected_version is None:
            if not await insert_new(self._latest, {"_id": key, **doc, "version": 1}):
                return False
        else:
            updated = await self._latest.update_one(
                {"_id": key, "version": expected_version},
                {"$set": {**doc, "version": expected_version + 1}},
            )
            if not updated.matched_count:
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
            "digest": result.digest,  # the same outcome (a digest stored in an older form)
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
        failing = await self._all(doc, FAILING)
        excepted = await self._all(doc, EXCEPTED)
        return to_result(doc, failing=failing, excepted=excepted)

    async def _all(self, doc: Mapping[str, Any], kind: str) -> tuple[CheckItem, ...]:
        """Every item of one list of a header, whatever the form it was written in."""
        if not doc.get("items_apart"):
            return _to_items(doc.get("failing_items" if kind == FAILING else "excepted_items"))
        count = int(doc.get(_COUNT_FIELD[kind]) or 0)
        if not count:
            return ()
        if doc.get(_LIST_FIELD[kind]):
            return await self._list(doc, kind, 0, count)
        org, rid = doc["organization_id"], doc["result_id"]
        docs = await self._buckets(org, rid, kind, 0, count)
        return _to_items([i for d in docs for i in d["items"]])

    async def _list(
        self, doc: Mapping[str, Any], kind: str, start: int, end: int
    ) -> tuple[CheckItem, ...]:
        """Items ``start`` to ``end`` (exclusive) of a chunked list of a header."""
        org = doc["organization_id"]
        shas, starts = await self._manifest(org, str(doc[_LIST_FIELD[kind]]))
        first = max(bisect_right(starts, start) - 1, 0)
        last = bisect_left(starts, end)
        wanted = [_chunk_key(org, h) for h in shas[first:last]]
        found: dict[str, Any] = {}
        for at in range(0, len(wanted), READ_BATCH):
            query = {"_id": {"$in": wanted[at : at + READ_BATCH]}}
            found.update({d["_id"]: d async for d in self._items.find(query)})
        items: list[Any] = []
        for key in wanted:
            chunk = found.get(key)
            if chunk is None or chunk.get("organization_id") != org:
                raise LookupError(f"the items chunk {key} of result {doc['result_id']} is missing")
            items.extend(chunk["items"])
        skip = start - starts[first] if wanted else 0
        return _to_items(items[skip : skip + end - start])

    async def _manifest(self, organization_id: str, key: str) -> tuple[list[str], list[int]]:
        """A manifest's chunk addresses and where each chunk starts (cached: never changed)."""
        held = self._manifests.get(key)
        if held is None:
            doc = await self._items.find_one({"_id": key})
            if doc is None or doc.get("organization_id") != organization_id:
                raise LookupError(f"the items manifest {key} is missing")
            shas, starts, position = [], [], 0
            for sha, count in doc["chunks"]:
                shas.append(str(sha))
                starts.append(position)
                position += int(count)
            held = (shas, starts)
            self._manifests[key] = held
            while len(self._manifests) > MANIFESTS:
                self._manifests.popitem(last=False)
        else:
            self._manifests.move_to_end(key)
        return held

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

    async def _write_list(
        self, result: CheckResult, kind: str, items: tuple[CheckItem, ...]
    ) -> str | None:
        """Store a list's chunks not stored yet and its manifest; the manifest's key (None
        for an empty list)."""
        if not items:
            return None
        org = result.organization_id
        where = (org, result.check_id, kind)
        cutting = self._chunker.recut(self._cuttings.pop(where, None), items)
        self._cuttings[where] = cutting
        while len(self._cuttings) > CUTTINGS:
            self._cuttings.popitem(last=False)
        fresh = {
            _chunk_key(org, p.sha256): i
            for i, p in enumerate(cutting.pieces)
            if _chunk_key(org, p.sha256) not in self._stored
        }
        if len(fresh) > 8:  # a list new to this process: send only what the store lacks
            keys = list(fresh)
            for at in range(0, len(keys), 1000):
                query = {"_id": {"$in": keys[at : at + 1000]}}
                async for present in self._items.find(query, {"_id": 1}):
                    self._remember(str(present["_id"]))
                    fresh.pop(str(present["_id"]), None)
        docs = [
            {
                "_id": key,
                "organization_id": org,
                "items": items_to_json(cutting.piece_items(index)),
            }
            for key, index in fresh.items()
        ]
        for first in range(0, len(docs), 100):
            await insert_missing(self._items, docs[first : first + 100])
        self.chunks_written += len(docs)
        for key in fresh:
            self._remember(key)
        chunks = [[p.sha256, p.count] for p in cutting.pieces]
        text = json.dumps(chunks, separators=(",", ":"))
        manifest = _manifest_key(org, hashlib.sha256(text.encode()).hexdigest())
        if manifest not in self._stored:
            doc = {"_id": manifest, "organization_id": org, "chunks": chunks, "count": len(items)}
            await insert_missing(self._items, [doc])
            self._remember(manifest)
        return manifest

    def _remember(self, key: str) -> None:
        self._stored[key] = None
        self._stored.move_to_end(key)
        while len(self._stored) > STORED_CHUNKS:
            self._stored.popitem(last=False)

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


def _chunk_key(organization_id: str, sha256: str) -> str:
    return f"{organization_id}:c:{sha256}"


def _manifest_key(organization_id: str, sha256: str) -> str:
    return f"{organization_id}:m:{sha256}"


def _item_text(item: CheckItem) -> str:
    """An item's canonical text (sorted keys, compact): what its chunk's address hashes."""
    return json.dumps(item.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


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
    return from_doc(
        CheckResult,
        doc,
        status=CheckStatus(doc["status"]),
        reason=doc.get("reason"),
        failing_items=failing if failing is not None else _to_items(doc.get("failing_items")),
        excepted_items=excepted if excepted is not None else _to_items(doc.get("excepted_items")),
        id=doc.get("result_id"),
    )


__all__ = ["ITEMS_PER_DOC", "CheckResultRepository"]
