"""The MongoDB operations Vigil relies on behave the same on every server we run on.

A server upgrade (or a swap of SecantusDB for MongoDB) that changes one of these fails here
before it silently changes Vigil's behaviour.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from motor.motor_asyncio import AsyncIOMotorClient
from pymongo import ReturnDocument, UpdateOne
from pymongo.errors import DuplicateKeyError

from services.store import Store


def _col(store: Store, name: str) -> Any:
    return store._db[name]


async def test_upsert_inserts_then_updates(store: Store) -> None:
    col = _col(store, "c_upsert")
    r1 = await col.update_one({"k": 1}, {"$set": {"v": "a"}}, upsert=True)
    r2 = await col.update_one({"k": 1}, {"$set": {"v": "b"}}, upsert=True)
    assert r1.upserted_id is not None and r2.upserted_id is None and r2.modified_count == 1
    assert await col.count_documents({}) == 1
    assert (await col.find_one({"k": 1}))["v"] == "b"


async def test_bulk_write_of_upserts(store: Store) -> None:
    col = _col(store, "c_bulk")
    # String ids, as Vigil uses: mongomock mistakes an upsert of ``_id: 0`` for a match.
    ops = [UpdateOne({"_id": f"i{i}"}, {"$set": {"n": i}}, upsert=True) for i in range(250)]
    result = await col.bulk_write(ops, ordered=False)
    assert result.upserted_count == 250
    ops = [UpdateOne({"_id": f"i{i}"}, {"$set": {"n": -i}}, upsert=True) for i in range(0, 250, 2)]
    result = await col.bulk_write(ops, ordered=False)
    assert (result.upserted_count, result.matched_count) == (0, 125)
    assert await col.count_documents({"n": {"$lt": 0}}) == 124  # n = -0 is not < 0


async def test_unique_index_rejects_duplicates(store: Store) -> None:
    col = _col(store, "c_unique")
    await col.create_index([("org", 1), ("email", 1)], unique=True)
    await col.insert_one({"org": "a", "email": "x@y"})
    await col.insert_one({"org": "b", "email": "x@y"})
    with pytest.raises(DuplicateKeyError):
        await col.insert_one({"org": "a", "email": "x@y"})


async def test_find_one_and_update_is_a_compare_and_swap(store: Store) -> None:
    col = _col(store, "c_cas")
    await col.insert_one({"_id": "lease", "version": 1, "owner": None})
    won = await col.find_one_and_update(
        {"_id": "lease", "version": 1},
        {"$set": {"owner": "a"}, "$inc": {"version": 1}},
        return_document=ReturnDocument.AFTER,
    )
    lost = await col.find_one_and_update(
        {"_id": "lease", "version": 1}, {"$set": {"owner": "b"}, "$inc": {"version": 1}}
    )
    assert won is not None and won["owner"] == "a" and won["version"] == 2
    assert lost is None


async def test_aggregation_group_and_sort(store: Store) -> None:
    col = _col(store, "c_agg")
    await col.insert_many([{"g": i % 3, "v": i} for i in range(30)])
    pipeline = [{"$match": {"v": {"$gte": 3}}}, {"$group": {"_id": "$g", "n": {"$sum": 1}}}]
    rows = [r async for r in col.aggregate([*pipeline, {"$sort": {"_id": 1}}])]
    assert rows == [{"_id": 0, "n": 9}, {"_id": 1, "n": 9}, {"_id": 2, "n": 9}]


async def test_sort_skip_limit_and_projection(store: Store) -> None:
    col = _col(store, "c_page")
    await col.insert_many([{"_id": f"a{i:03}", "v": i} for i in range(20)])
    page = [d async for d in col.find({"_id": {"$gt": "a004"}}, {"v": 1}).sort("_id", 1).limit(3)]
    assert page == [{"_id": "a005", "v": 5}, {"_id": "a006", "v": 6}, {"_id": "a007", "v": 7}]


@pytest.mark.wire
async def test_change_stream_sees_inserts(wire_url: str) -> None:
    client = AsyncIOMotorClient(wire_url, tz_aware=True)
    col = client["vigil_conformance"]["c_watch"]
    try:
        async with col.watch() as stream:
            await col.insert_one({"event": "x"})
            change = await asyncio.wait_for(stream.next(), 10)
        assert change["operationType"] == "insert"
        assert change["fullDocument"]["event"] == "x"
    finally:
        await client.drop_database("vigil_conformance")
        client.close()
