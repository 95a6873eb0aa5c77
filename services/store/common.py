"""Helpers shared by the repositories: ids (``services.ids``), time, duplicate-key detection."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from pymongo.errors import BulkWriteError, DuplicateKeyError

from services.clock import utcnow_ms as utcnow
from services.errors import AlreadyExists
from services.ids import new_id

__all__ = ["DuplicateKeyError", "insert_missing", "new_id", "newest_first", "unique", "utcnow"]

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
    after ``before`` (the ``(field, _id)`` of the last one seen) in that order.

    The server is asked only for ``field <= value``: a range on the index's own field, which
    every server answers with an index scan (a tie-breaking ``$or`` made SecantusDB scan the
    whole collection). The few documents that tie with ``before`` are skipped here.
    """
    cursor = collection.find(
        query if before is None else {**query, field: {"$lte": before[0]}}, projection
    ).sort([(field, -1), ("_id", -1)])
    if before is None:
        cursor = cursor.limit(limit)  # no tie to skip
    docs: list[Mapping[str, Any]] = []
    try:
        async for doc in cursor:
            if before is not None and doc[field] == before[0] and doc["_id"] >= before[1]:
                continue
            docs.append(doc)
            if len(docs) >= limit:
                break
    finally:
        await cursor.close()
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
