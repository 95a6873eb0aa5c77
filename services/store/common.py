"""Helpers shared by the repositories: ids (``services.ids``), time, duplicate-key detection."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from pymongo.errors import BulkWriteError, DuplicateKeyError

from services.clock import utcnow_ms as utcnow
from services.errors import AlreadyExists
from services.ids import new_id

__all__ = [
    "DuplicateKeyError",
    "batches",
    "insert_missing",
    "keyset_page",
    "new_id",
    "newest_first",
    "unique",
    "utcnow",
]

_DUPLICATE_KEY = 11000


@contextmanager
def unique(what: str) -> Iterator[None]:
    """Turn the driver's duplicate-key error into ``AlreadyExists(what)`` (no key values)."""
    try:
        yield
    except DuplicateKeyError:
        raise AlreadyExists(what) from None


async def newest_first(
    collection: Any,
    query: Mapping[str, Any],
    field: str,
    before: tuple[datetime, str] | None,
    limit: int,
    projection: Mapping[str, Any] | None = None,
) -> list[Mapping[str, Any]]:
    """Up to ``limit`` documents of ``query`` in ``(field, _id)`` descending order, strictly
    after ``before`` (the ``(field, _id)`` of the last one seen) in that order."""
    return await keyset_page(
        collection,
        query,
        (field, "_id"),
        before,
        limit=limit,
        descending=True,
        projection=projection,
    )


async def keyset_page(
    collection: Any,
    query: Mapping[str, Any],
    order: tuple[str, str],
    after: tuple[Any, Any] | None,
    *,
    limit: int,
    descending: bool = False,
    projection: Mapping[str, Any] | None = None,
) -> list[Mapping[str, Any]]:
    """Up to ``limit`` documents of ``query`` in ``order`` (a field, then a unique field that
    breaks its ties), strictly after ``after`` (the last one seen's values of both).

    Every query is a range of an index led by ``query``'s fields and then ``order``, so a
    server reads about ``limit`` keys of it: first the rest of ``after``'s ties (``field`` equal,
    the tie-breaker beyond), then, for what is missing, the values beyond ``after``'s. (A
    ``$or`` of the two made SecantusDB scan the whole collection, and a range that included the
    ties read all of them again on every page: a bulk import writes thousands of people with
    one ``updated_at``.)
    """
    field, tie = order
    beyond = "$lt" if descending else "$gt"
    direction = -1 if descending else 1
    sort = [(field, direction), (tie, direction)]
    docs: list[Mapping[str, Any]] = []
    if after is not None:
        value, last = after
        ties = {**query, field: value, tie: {beyond: last}}
        docs = await collection.find(ties, projection).sort(sort).limit(limit).to_list(limit)
        if len(docs) >= limit:
            return docs
        query = {**query, field: {beyond: value}}
    missing = limit - len(docs)
    docs += await collection.find(query, projection).sort(sort).limit(missing).to_list(missing)
    return docs


async def insert_missing(collection: Any, docs: list[dict[str, Any]]) -> None:
    """Insert ``docs`` unordered; a document whose ``_id`` is already stored is skipped."""
    if not docs:
        return
    try:
        await collection.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(e.get("code") != _DUPLICATE_KEY for e in errors):
            raise


async def batches(cursor: Any, size: int = 1000) -> AsyncIterator[list[Any]]:
    """A cursor's documents ``size`` at a time: streamed like ``async for``, without the
    driver's per-document awaits (a few microseconds each, on every account of a snapshot)."""
    while batch := await cursor.to_list(size):
        yield batch
