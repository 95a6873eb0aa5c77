"""Helpers shared by the repositories: ids, time, duplicate-key detection."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

__all__ = ["DuplicateKeyError", "new_id", "newest_first", "utcnow"]


def new_id(prefix: str) -> str:
    """An opaque, URL-safe identifier such as ``org_3fA…``."""
    return f"{prefix}_{secrets.token_urlsafe(12)}"


def utcnow() -> datetime:
    """The current time in UTC, truncated to milliseconds as MongoDB stores it."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


async def newest_first(
    collection: Any,
    query: Mapping[str, Any],
    field: str,
    before: tuple[datetime, str] | None,
    limit: int,
) -> list[Mapping[str, Any]]:
    """Up to ``limit`` documents of ``query`` in ``(field, _id)`` descending order, strictly
    after ``before`` (the ``(field, _id)`` of the last one seen) in that order.

    The server is asked only for ``field <= value``: a range on the index's own field, which
    every server answers with an index scan (a tie-breaking ``$or`` made SecantusDB scan the
    whole collection). The few documents that tie with ``before`` are skipped here.
    """
    cursor = collection.find(
        query if before is None else {**query, field: {"$lte": before[0]}}
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
