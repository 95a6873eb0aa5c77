"""The embedded store reads a document in one copy and matches ``{field: text}`` directly
(issue 15: a cold evaluation of 100,000 accounts spent most of its time in mongomock's
copies); what a read returns is unchanged."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.store.client import connect

AT = datetime(2026, 1, 2, 3, 4, 5, 6000)


async def test_reads_return_independent_aware_copies_and_match_like_mongodb() -> None:
    client, embedded = connect(None)
    assert embedded
    col = client["db"]["docs"]
    await col.insert_many(
        [
            {"_id": 1, "org": "a", "at": AT, "nested": {"at": AT, "tags": ["x", {"at": AT}]}},
            {"_id": 2, "org": "b", "at": None, "nested": {}},
            {"_id": 3, "org": ["a", "c"], "n": 3},  # an array matches a text it contains
            {"_id": 4, "n": 4},  # no org
            {"_id": 5, "org": "a", "kind": "app", "groups": ("g1", "g2")},
        ]
    )

    async def ids(query: dict[str, Any]) -> list[int]:
        return [d["_id"] async for d in col.find(query).sort("_id", 1)]

    assert await ids({"org": "a"}) == [1, 3, 5]
    assert await ids({"org": "a", "kind": "app"}) == [5]
    assert await ids({"org": "c"}) == [3]
    assert await ids({"org": "z"}) == []
    assert await ids({"n": {"$gte": 3}}) == [3, 4]  # other queries: mongomock's own matching

    first = await col.find_one({"_id": 1})
    listed = (await col.find({"org": "a"}).to_list(None))[0]
    for doc in (first, listed):
        assert doc["at"] == AT.replace(tzinfo=UTC) and doc["at"].tzinfo is not None
        assert doc["nested"]["at"].tzinfo is not None
        assert doc["nested"]["tags"][1]["at"].tzinfo is not None
    listed["nested"]["tags"].append("mutated")  # a copy: the stored document is unchanged
    again = (await col.find({"org": "a"}).to_list(None))[0]
    assert again["nested"]["tags"] == ["x", {"at": AT.replace(tzinfo=UTC)}]
    fifth = (await col.find({"kind": "app"}).to_list(None))[0]
    assert list(fifth["groups"]) == ["g1", "g2"]


async def test_a_read_copies_each_document_once(monkeypatch: Any) -> None:
    from mongomock import collection, helpers

    client, _ = connect(None)
    col = client["db"]["once"]
    await col.insert_many([{"_id": i, "org": "a", "at": AT} for i in range(20)])

    def refuse(*args: Any) -> Any:
        raise AssertionError("a second copy of the document")

    monkeypatch.setattr(helpers, "make_datetime_timezone_aware_in_document", refuse)
    monkeypatch.setattr(collection.copy, "copy", refuse)  # no per-field copy of immutables
    docs = [d async for d in col.find({"org": "a"})]
    assert len(docs) == 20 and all(d["at"].tzinfo is not None for d in docs)


async def test_a_sort_on_a_text_field_keeps_mongodb_order() -> None:
    client, _ = connect(None)
    col = client["db"]["sorted"]
    names = ["b", "a", "é", "B", "a", "ab", "Z"]
    await col.insert_many([{"_id": i, "name": n, "s": "x"} for i, n in enumerate(names)])

    async def order(direction: int, query: dict[str, Any] | None = None) -> list[int]:
        return [d["_id"] async for d in col.find(query or {"s": "x"}).sort("name", direction)]

    # Code point order (MongoDB's binary order of UTF-8), ties in insertion order.
    assert await order(1) == [3, 6, 1, 4, 5, 0, 2]
    assert await order(-1) == [2, 0, 5, 1, 4, 6, 3]
    await col.insert_one({"_id": 99, "s": "x"})  # no name: sorts first (null), mongomock's way
    assert (await order(1))[0] == 99
