"""The embedded store's cursors read each document once (issue 15): mongomock copied its
whole result list for every document it returned, so a cursor over N documents cost N²."""

from __future__ import annotations

from typing import Any

from services.store.client import connect


class NoSlices(list[Any]):
    """A result list that refuses to be copied by slicing."""

    def __getitem__(self, index: Any) -> Any:
        assert not isinstance(index, slice), "the cursor copied its results"
        return super().__getitem__(index)


async def test_embedded_cursor_reads_by_index_with_skip_and_limit() -> None:
    client, embedded = connect(None)
    assert embedded
    col = client["db"]["items"]
    await col.insert_many([{"_id": i, "n": i} for i in range(50)])

    async def read(**options: Any) -> list[int]:
        cursor = col.find({}).sort("n", 1)
        if "skip" in options:
            cursor = cursor.skip(options["skip"])
        if "limit" in options:
            cursor = cursor.limit(options["limit"])
        return [doc["n"] async for doc in cursor]

    assert await read() == list(range(50))
    assert await read(skip=45) == [45, 46, 47, 48, 49]
    assert await read(limit=3) == [0, 1, 2]
    assert await read(skip=10, limit=2) == [10, 11]
    assert await read(skip=60) == []

    cursor = col.find({"n": {"$gte": 40}}).sort("n", -1)
    sync_cursor: Any = cursor._AsyncCursor__cursor  # mongomock's own cursor under the wrapper
    sync_cursor._compute_results()
    sync_cursor._results = NoSlices(sync_cursor._results)
    assert [doc["n"] async for doc in cursor] == list(range(49, 39, -1))
