"""Chunked lists (ADR 011): cut into bounded content-addressed chunks, read back whole, and a
population chunked once per population and serialised once per item."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.checks.base import Population
from services.evidence.chain import canonical_json, sha256_hex
from services.evidence.chunks import (
    MAX_CHUNK_CHARS,
    ListReader,
    ListRef,
    chunk_texts,
    chunk_values,
    parse_manifest,
)
from services.evidence.models import Blob
from services.evidence.recorder import PopulationChunks

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=8),
    st.lists(st.text(max_size=4), max_size=3),
)
items = st.lists(st.dictionaries(st.text(max_size=6), values, max_size=5), max_size=40)


class MemoryChunks:
    """A ``ChunkStore`` in a dict, counting round trips."""

    def __init__(self) -> None:
        self.blobs: dict[tuple[str, str], str] = {}
        self.gets = 0

    async def put(self, organization_id: str, blobs: Any) -> int:
        new = [b for b in blobs if (organization_id, b.sha256) not in self.blobs]
        self.blobs.update(((organization_id, b.sha256), b.text) for b in new)
        return len(new)

    async def get(self, organization_id: str, addresses: Any) -> dict[str, str]:
        self.gets += 1
        return {
            a: self.blobs[(organization_id, a)]
            for a in addresses
            if (organization_id, a) in self.blobs
        }


def joined(chunks: tuple[Blob, ...]) -> list[Any]:
    return [v for c in chunks for v in json.loads(c.text)]


@settings(max_examples=60, deadline=None)
@given(rows=items)
async def test_a_list_is_cut_into_addressed_chunks_that_read_back_whole(
    rows: list[dict[str, Any]],
) -> None:
    chunked = chunk_values(rows)
    assert chunked.count == len(rows) and chunked.ref() == {
        "count": len(rows),
        "root": chunked.root,
    }
    assert chunked.root == sha256_hex(chunked.manifest.text) == chunked.manifest.sha256
    assert all(c.sha256 == sha256_hex(c.text) for c in chunked.chunks)
    assert joined(chunked.chunks) == json.loads(canonical_json(rows))
    manifest = parse_manifest(chunked.manifest.text)
    assert [h for h, _ in manifest.chunks] == [c.sha256 for c in chunked.chunks]
    store = MemoryChunks()
    await store.put("org_1", chunked.blobs())
    read = await ListReader(store, "org_1").read(ListRef(chunked.root, chunked.count))
    assert read == json.loads(canonical_json(rows))


def test_chunks_are_bounded_and_a_changed_value_changes_only_its_chunk() -> None:
    rows = [{"accountId": f"712020:{i:036d}", "classification": "STAFF"} for i in range(20_000)]
    chunked = chunk_values(rows)
    sizes = [len(c.text) for c in chunked.chunks]
    assert len(sizes) > 10 and max(sizes) <= MAX_CHUNK_CHARS + 2  # the brackets
    changed = chunk_values(
        [*rows[:9_000], {"accountId": "x", "classification": "NONE"}, *rows[9_001:]]
    )
    inserted = chunk_values([*rows[:5_000], {"accountId": "new"}, *rows[5_000:]])
    before = {c.sha256 for c in chunked.chunks}
    assert len({c.sha256 for c in changed.chunks} - before) <= 2
    assert len({c.sha256 for c in inserted.chunks} - before) <= 2  # boundaries follow content
    big = "x" * MAX_CHUNK_CHARS
    one_big = chunk_texts([canonical_json(big), "1", "2"])  # a value over the bound: alone
    assert json.loads(one_big.chunks[0].text) == [big] and joined(one_big.chunks) == [big, 1, 2]


def test_an_empty_list_has_a_manifest_and_no_chunk() -> None:
    empty = chunk_values([])
    assert (
        empty.count == 0 and empty.chunks == () and parse_manifest(empty.manifest.text).count == 0
    )
    assert empty.root == chunk_values(()).root  # one address for every empty list


def test_a_population_is_chunked_once_and_unchanged_items_are_reused() -> None:
    populations = PopulationChunks()
    rows = tuple({"accountId": f"a{i:05d}", "classification": "STAFF"} for i in range(20_000))
    population = Population("accounts", rows)
    first = populations.chunked("org_1", population)
    for _ in range(4):  # several checks over one evaluation's population
        assert populations.chunked("org_1", population) is first
    assert (populations.populations_chunked, populations.items_serialised) == (1, 20_000)
    assert first == chunk_values(rows) and len(first.chunks) > 8

    # One item changed: only the chunk holding it (and at most its neighbour) is cut again.
    changed = {"accountId": "a07000", "classification": "UNIDENTIFIED"}
    second = Population("accounts", (*rows[:7000], changed, *rows[7001:]))
    again = populations.chunked("org_1", second)
    expected = chunk_values(second.items)
    assert (again.root, again.manifest, again.chunks) == (
        expected.root,
        expected.manifest,
        expected.chunks,
    )
    largest = max(json.loads(c.text).__len__() for c in first.chunks)
    assert populations.populations_chunked == 2
    assert populations.items_serialised - 20_000 <= 2 * largest + 1

    # Once a record stored them, the chunks are not carried (nor held) again.
    populations.stored("org_1", [again])
    third = Population("accounts", (*second.items[:-1], {"accountId": "a19999", "x": 1}))
    last = populations.chunked("org_1", third)
    assert last.root == chunk_values(third.items).root
    assert len(last.chunks) <= 2 and last.omitted == len(
        parse_manifest(last.manifest.text).chunks
    ) - len(last.chunks)

    # An equal but rebuilt population is cut from scratch (items are matched by object).
    populations.chunked("org_2", population)
    assert populations.items_serialised >= 40_000
