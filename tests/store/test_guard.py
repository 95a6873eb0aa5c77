"""The store refuses to write a document over its limit, on both stores (issue 24): MongoDB
refuses 16 MB, the embedded store anything at all, so the limit is the store's own."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from pymongo import InsertOne, ReplaceOne, UpdateOne

from services.errors import DocumentTooLarge
from services.store import Store
from services.store.guard import DEFAULT_MAX_DOCUMENT_BYTES

LIMIT = 64 * 1024
BIG = "x" * (LIMIT + 1)
SMALL = "x" * 100


def writes(col: Any, text: str) -> dict[str, Any]:
    """Every way a repository writes a document, each sending ``text``."""
    return {
        "insert_one": lambda: col.insert_one({"_id": "one", "text": text}),
        "insert_many": lambda: col.insert_many([{"_id": "a"}, {"_id": "many", "text": text}]),
        "replace_one": lambda: col.replace_one({"_id": "r"}, {"text": text}, upsert=True),
        "update_one": lambda: col.update_one({"_id": "u"}, {"$set": {"text": text}}, upsert=True),
        "update_many": lambda: col.update_many({"_id": "m"}, {"$set": {"text": text}}, upsert=True),
        "find_one_and_update": lambda: col.find_one_and_update(
            {"_id": "f"}, {"$set": {"text": text}}, upsert=True
        ),
        "find_one_and_replace": lambda: col.find_one_and_replace(
            {"_id": "g"}, {"text": text}, upsert=True
        ),
        "bulk_write": lambda: col.bulk_write(
            [
                InsertOne({"_id": "b1"}),
                UpdateOne({"_id": "b2"}, {"$set": {"text": text}}, upsert=True),
                ReplaceOne({"_id": "b3"}, {"text": "small"}, upsert=True),
            ]
        ),
    }


def test_the_default_limit_is_well_below_mongodbs() -> None:
    assert DEFAULT_MAX_DOCUMENT_BYTES == 4 * 1024 * 1024


@pytest.mark.parametrize("how", list(writes(None, "")))
async def test_a_document_over_the_limit_is_refused_and_nothing_is_written(
    store: Store, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    store.guard.limit = LIMIT
    col = store._db["guarded"]
    with (
        caplog.at_level(logging.ERROR, logger="services.store.guard"),
        pytest.raises(DocumentTooLarge) as refused,
    ):
        await writes(col, BIG)[how]()
    assert refused.value.collection == "guarded" and refused.value.limit == LIMIT
    assert refused.value.size > LIMIT
    assert await col.count_documents({}) == 0  # refused before anything was sent
    assert store.guard.refusals["guarded"] == 1
    [line] = [r.getMessage() for r in caplog.records]
    assert "guarded" in line and str(LIMIT) in line and "VIGIL_MAX_DOCUMENT_BYTES" in line
    await writes(col, SMALL)[how]()  # under the limit: written
    assert await col.count_documents({}) >= 1
    assert store.guard.refusals["guarded"] == 1
