"""Snapshot orders: each list a snapshot is paged by, written once, read a page at a time.

A snapshot never changes once its run has written it, so the order of its accounts (by
account id) and of its pages (by page id) is written down when the run finishes, once per
*key* — every item (``all``) and every value of the filters a page can be read by
(``status=ACTIVE``, ``admin=true``, ``access=false``, ``type=app``, ``group=<name>``;
``label=<label>``, ``space=<key>``):

- ``snapshot_orders`` holds each key's ids in order, in chunks of ``CHUNK`` ids
  (``{snapshot}|{key}|{n}``);
- ``snapshot_order_keys`` holds, per key, how many ids it has (a filtered ``totalCount``
  without counting) and the first id of each chunk.

A page after cursor ``c`` reads the key's document, the (at most two) chunks holding the ids
after ``c``, then the items (``SnapshotQueryRepository``: the key's equality and the range
from the page's first id to its last): a few documents and ``limit`` items whatever the size
of the snapshot, on every server — SecantusDB included, which reads every document its
query's index bounds hold before applying a limit. Writing them costs one sorted, projected
read of the snapshot and a document per ``CHUNK`` ids.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

CHUNK = 512  # > the largest page (500 + 1), so a page spans at most two chunks
ALL = "all"
_WRITE_BATCH = 64  # chunk documents per insert (~1.5 MB)
_KEYS_KEPT = 256  # key documents kept per process (a few KB each)


@dataclass(frozen=True, slots=True)
class OrderedPage:
    """The ids of a page of one key, and the key's size."""

    ids: list[str]
    total: int


class SnapshotOrders:
    """The orders of one kind of snapshot item (accounts or pages). A key's document never
    changes once written, so the ones read are kept (``_KEYS_KEPT``): a page then costs two
    reads, its chunks and its items."""

    def __init__(self, db: Any, kind: str) -> None:
        self._kind = kind
        self._orders = db["snapshot_orders"]
        self._keys = db["snapshot_order_keys"]
        self._kept: OrderedDict[str, Mapping[str, Any]] = OrderedDict()

    async def ensure_indexes(self) -> None:
        """Deletion by snapshot (reads are by ``_id``)."""
        await self._orders.create_index("snapshot_id")
        await self._keys.create_index("snapshot_id")

    async def record(
        self,
        snapshot_id: str,
        docs: Any,
        *,
        id_field: str,
        keys_of: Callable[[Mapping[str, Any]], Iterable[str]],
    ) -> None:
        """Write the orders of the snapshot from ``docs`` (an async cursor in id order);
        written again from scratch if they exist."""
        await self.delete(snapshot_id)
        pending: dict[str, list[str]] = {}
        written: dict[str, tuple[int, list[str]]] = {}  # key -> (count, first id of chunks)
        chunks: list[dict[str, Any]] = []

        def close(key: str, ids: list[str]) -> None:
            count, firsts = written.get(key, (0, []))
            chunk_id = self._chunk_id(snapshot_id, key, len(firsts))
            chunks.append({"_id": chunk_id, **self._tags(snapshot_id), "ids": ids})
            written[key] = (count + len(ids), [*firsts, ids[0]])

        async for doc in docs:
            item_id = doc[id_field]
            for key in dict.fromkeys((ALL, *keys_of(doc))):
                ids = pending.setdefault(key, [])
                ids.append(item_id)
                if len(ids) == CHUNK:
                    close(key, ids)
                    pending[key] = []
            if len(chunks) >= _WRITE_BATCH:
                await self._orders.insert_many(chunks, ordered=False)
                chunks = []
        for key, ids in pending.items():
            if ids:
                close(key, ids)
        for start in range(0, len(chunks), _WRITE_BATCH):
            await self._orders.insert_many(chunks[start : start + _WRITE_BATCH], ordered=False)
        written.setdefault(ALL, (0, []))  # an empty snapshot is ordered too
        keys = [
            {
                "_id": self._key_id(snapshot_id, key),
                **self._tags(snapshot_id),
                "count": count,
                "firsts": firsts,
            }
            for key, (count, firsts) in written.items()
        ]
        for start in range(0, len(keys), _WRITE_BATCH):
            await self._keys.insert_many(keys[start : start + _WRITE_BATCH], ordered=False)

    async def page(
        self, snapshot_id: str, key: str, *, after: str | None, limit: int
    ) -> OrderedPage | None:
        """Up to ``limit`` ids of ``key`` after ``after``; None when the snapshot has no
        orders (written before they existed)."""
        found = await self._key(snapshot_id, key)
        if found is None:
            if key != ALL and await self._keys.find_one(
                {"_id": self._key_id(snapshot_id, ALL)}, {"_id": 1}
            ):
                return OrderedPage([], 0)  # ordered, and no item has this value
            return None
        firsts: Sequence[str] = found["firsts"]
        total = int(found["count"])
        chunk = 0 if after is None else max(0, bisect.bisect_right(firsts, after) - 1)
        ids: list[str] = []
        while chunk < len(firsts) and len(ids) < limit:
            wanted = range(chunk, min(chunk + 2, len(firsts)))
            chunk_ids = [self._chunk_id(snapshot_id, key, n) for n in wanted]
            docs = {
                d["_id"]: d["ids"] async for d in self._orders.find({"_id": {"$in": chunk_ids}})
            }
            for chunk_id in chunk_ids:
                more: list[str] = docs.get(chunk_id, [])
                if after is not None:
                    more = more[bisect.bisect_right(more, after) :]
                ids.extend(more[: limit - len(ids)])
            chunk = wanted.stop
        return OrderedPage(ids, total)

    async def _key(self, snapshot_id: str, key: str) -> Mapping[str, Any] | None:
        key_id = self._key_id(snapshot_id, key)
        kept = self._kept.get(key_id)
        if kept is not None:
            self._kept.move_to_end(key_id)
            return kept
        found: Mapping[str, Any] | None = await self._keys.find_one({"_id": key_id})
        if found is not None:
            self._kept[key_id] = found
            while len(self._kept) > _KEYS_KEPT:
                self._kept.popitem(last=False)
        return found

    async def delete(self, snapshot_id: str) -> None:
        """Delete the snapshot's orders (of this kind)."""
        prefix = self._key_id(snapshot_id, "")
        for key_id in [k for k in self._kept if k.startswith(prefix)]:
            del self._kept[key_id]
        await self._orders.delete_many(self._tags(snapshot_id))
        await self._keys.delete_many(self._tags(snapshot_id))

    def _tags(self, snapshot_id: str) -> dict[str, str]:
        return {"snapshot_id": snapshot_id, "kind": self._kind}

    def _key_id(self, snapshot_id: str, key: str) -> str:
        return f"{snapshot_id}|{self._kind}|{key}"

    def _chunk_id(self, snapshot_id: str, key: str, n: int) -> str:
        return f"{snapshot_id}|{self._kind}|{key}|{n:06d}"


def account_keys(doc: Mapping[str, Any]) -> list[str]:
    """The keys an account is listed under besides ``all`` (its filterable values)."""
    keys = [
        f"status={doc.get('account_status')}",
        f"admin={'true' if doc.get('is_admin') else 'false'}",
        f"access={'true' if doc.get('has_access') else 'false'}",
        f"type={doc.get('account_type')}",
    ]
    return keys + [f"group={g}" for g in doc.get("groups") or ()]


def page_keys(doc: Mapping[str, Any]) -> list[str]:
    """The keys a Confluence page is listed under besides ``all``."""
    keys = [f"label={label}" for label in doc.get("labels") or ()]
    space = doc.get("space_key")
    return keys + ([f"space={space}"] if space is not None else [])


__all__ = ["ALL", "CHUNK", "OrderedPage", "SnapshotOrders", "account_keys", "page_keys"]
