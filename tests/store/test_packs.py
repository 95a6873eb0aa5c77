"""Packs (ADR 026): whole reads of snapshot accounts, people and identities from a few large
documents give exactly what the documents give, and any pack a reader cannot use whole
means reading the documents. On both stores."""

from __future__ import annotations

import logging
import zlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import bson
import pytest

from services.identity.caches import RevisionedCache
from services.people.models import Person, person_id
from services.store import Store, packs
from services.store.packs import accounts_pack
from services.sync.models import SnapshotAccount, SnapshotManifest, SnapshotScope
from testkit import access_scale as scale

ORG = "org_packs"
NOW = datetime(2026, 12, 1, 9, 30, 15, 123000, tzinfo=UTC)


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of a few documents, so that every pack here has several."""
    monkeypatch.setattr(packs, "CHUNK_BYTES", 4096)


async def packed(store: Store, key: str) -> list[dict[str, Any]]:
    return [d async for d in store.packs._col.find({"key": key})]


async def test_a_pack_reads_back_its_documents_in_order_with_their_types(store: Store) -> None:
    documents = [
        {"_id": f"d{i:03d}", "at": NOW + timedelta(seconds=i), "n": i, "tags": ["a", str(i)]}
        for i in range(200)
    ]
    assert await store.packs.write("k", 7, documents, tags={"organization_id": ORG}) == 200

    pack = await store.packs.read("k")

    assert pack is not None and pack.seq == 7 and pack.rows == 200
    assert len(pack.chunks) > 3  # several chunks of at most CHUNK_BYTES
    assert list(pack.documents()) == documents  # aware datetimes, lists, order
    assert all(d["organization_id"] == ORG for d in await packed(store, "k"))


async def test_a_new_pack_replaces_the_old_and_leaves_no_chunk_behind(store: Store) -> None:
    await store.packs.write("k", 1, [{"_id": i, "v": "old"} for i in range(100)], tags={})
    stopped = store.packs.writer("k", 2, tags={})  # a writer that stops before its header
    for i in range(100):
        await stopped.add({"_id": i, "v": "lost"})

    await store.packs.write("k", 3, [{"_id": i, "v": "new"} for i in range(50)], tags={})

    pack = await store.packs.read("k")
    assert pack is not None and pack.seq == 3
    assert {d["v"] for d in pack.documents()} == {"new"}
    assert sum(int(c["rows"]) for c in await packed(store, "k")) == 50


async def test_a_pack_missing_a_chunk_is_not_read(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    await store.packs.write("k", 1, [{"_id": i, "pad": "x" * 100} for i in range(200)], tags={})
    chunks = sorted(str(c["_id"]) for c in await packed(store, "k"))
    await store.packs._col.delete_one({"_id": chunks[1]})

    with caplog.at_level(logging.WARNING, logger="services.store.packs"):
        assert await store.packs.read("k") is None
    assert "not whole" in caplog.text
    await store.packs.delete("k")
    assert await store.packs.read("k") is None and await packed(store, "k") == []


async def test_chunks_are_compressed_and_a_pack_of_format_1_still_reads(store: Store) -> None:
    documents = [{"_id": f"d{i:03d}", "name": f"Person {i}", "at": NOW} for i in range(300)]
    await store.packs.write("k", 5, documents, tags={})
    stored = sum(len(c["data"]) for c in await packed(store, "k"))
    assert stored * 4 < sum(len(bson.encode(d)) for d in documents)  # compressed

    # A pack written before compression (format 1: the chunks as bare BSON) reads the same.
    for chunk in await packed(store, "k"):
        bare = bson.Binary(zlib.decompress(chunk["data"]))
        await store.packs._col.update_one({"_id": chunk["_id"]}, {"$set": {"data": bare}})
    await store.packs._col.update_one({"_id": "k"}, {"$set": {"format": 1}})
    pack = await store.packs.read("k")
    assert pack is not None and pack.format == 1 and list(pack.documents()) == documents

    await store.packs._col.update_one({"_id": "k"}, {"$set": {"format": 3}})  # not known here
    assert await store.packs.read("k") is None


async def snapshot(store: Store, n: int, snapshot_id: str = scale.SNAPSHOT) -> SnapshotScope:
    scope = SnapshotScope(snapshot_id, "int_packs", ORG)
    await store.snapshot_data.insert_accounts(scope, [scale.account(i) for i in range(n)])
    await store.snapshot_data.record_counts(snapshot_id)
    pack = await store.packs.read(accounts_pack(snapshot_id))
    assert pack is not None and pack.rows == n  # what the reads below read first
    return scope


async def every_account(store: Store, snapshot_id: str) -> list[SnapshotAccount]:
    return [a async for a in store.snapshot_queries.iter_accounts(snapshot_id=snapshot_id)]


async def test_a_snapshot_is_packed_when_its_counts_are_recorded(store: Store) -> None:
    await snapshot(store, 120)

    from_pack = await every_account(store, scale.SNAPSHOT)
    await store.packs.delete(accounts_pack(scale.SNAPSHOT))
    from_documents = await every_account(store, scale.SNAPSHOT)

    assert from_pack == from_documents == [scale.account(i) for i in range(120)]
    await snapshot(store, 1, "snap_other")
    await store.snapshot_data.delete_snapshot("snap_other")
    assert await packed(store, accounts_pack("snap_other")) == []


async def test_a_layer_over_a_packed_base_reads_as_over_its_documents(store: Store) -> None:
    await snapshot(store, 60)
    layer = SnapshotScope("snap_layer", "int_packs", ORG)
    changed = [replace(scale.account(i), display_name=f"Changed {i}") for i in (0, 7, 59)]
    added = replace(scale.account(60), account_id="712020:zz-new")
    await store.snapshot_data.insert_accounts(layer, [*changed, added])
    listed = (*(a.account_id for a in changed), added.account_id, scale.account_id(30))  # 30: gone
    manifest = SnapshotManifest("snap_layer", base_id=scale.SNAPSHOT, accounts=listed)
    await store.snapshot_layers.write(manifest)

    over_pack = await every_account(store, "snap_layer")
    await store.packs.delete(accounts_pack(scale.SNAPSHOT))
    over_documents = await every_account(store, "snap_layer")

    assert over_pack == over_documents
    names = {a.account_id: a.display_name for a in over_pack}
    assert names[scale.account_id(7)] == "Changed 7" and "712020:zz-new" in names
    assert scale.account_id(30) not in names and len(over_pack) == 60


async def write_people(store: Store, ids: range, *, name: str = "") -> None:
    records = [replace(scale.record(i, NOW), name=f"{name}{i}") for i in ids]
    await store.people.write(organization_id=ORG, records=records, existing={})


def latest(pairs: list[tuple[int, Person]]) -> dict[str, Person]:
    found: dict[str, tuple[int, Person]] = {}
    for seq, person in pairs:
        if person.id not in found or found[person.id][0] < seq:
            found[person.id] = (seq, person)
    return {k: v for k, (_, v) in found.items()}


async def test_people_read_from_a_checkpoint_and_what_was_written_since(store: Store) -> None:
    store.people.checkpoints.pack_from = 10
    await write_people(store, range(30))
    scanned = await store.people.list_changed(organization_id=ORG, after_seq=0)  # keeps one
    assert len(scanned) == 30 and await store.packs.seq(f"people|{ORG}") == 30
    await write_people(store, range(25, 40), name="again ")  # 5 changed, 10 new

    current = await store.people.list_current(organization_id=ORG)

    truth = latest(await store.people.list_changed(organization_id=ORG, after_seq=0))
    assert latest(current) == truth and len(current) == len(truth) == 40
    assert {p.name for p in truth.values() if p.name and p.name.startswith("again")} == {
        f"again {i}" for i in range(25, 40)
    }


async def test_a_checkpoint_is_decoded_a_chunk_at_a_time_as_it_is_read(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A million people are never held as documents at once: the reader gets them a chunk at
    a time (what was written since first, then the checkpoint's others)."""
    store.people.checkpoints.pack_from = 10
    await write_people(store, range(200))
    await store.people.list_changed(organization_id=ORG, after_seq=0)  # keeps a checkpoint
    chunks = (await store.packs.read(f"people|{ORG}")).chunks  # type: ignore[union-attr]
    await write_people(store, range(3), name="again ")
    decoded: list[int] = []
    unpack = packs._UNPACK[packs.FORMAT]

    def counted(chunk: bytes) -> bytes:
        decoded.append(len(chunk))
        return unpack(chunk)

    monkeypatch.setitem(packs._UNPACK, packs.FORMAT, counted)

    reading = await store.people.checkpoints.current(ORG)
    first = [next(reading) for _ in range(4)]  # the 3 written since, then the checkpoint's
    assert [d["name"] for d in first[:3]] == [f"again {i}" for i in range(3)]
    assert len(chunks) >= 5 and len(decoded) == 1
    rest = list(reading)
    assert len(decoded) == len(chunks) and len(first) + len(rest) == 200
    assert len({d["_id"] for d in first + rest}) == 200


async def test_a_checkpoint_is_kept_only_from_a_scan_with_no_writer_at_work(store: Store) -> None:
    store.identities.checkpoints.pack_from = 5
    key = f"identities|{ORG}"
    found = [scale.identity(i, ORG) for i in range(12)]
    await store.identities.write_automatic(organization_id=ORG, identities=found, stored=())
    at_work = await store.revisions.reserve(organization_id=ORG, name="identities")

    await store.identities.list_changed(organization_id=ORG, after_seq=0)
    assert await store.packs.seq(key) is None  # a reserved document may not be visible yet

    await store.revisions.release(organization_id=ORG, name="identities", token=at_work.token)
    await store.identities.list_changed(organization_id=ORG, after_seq=0)
    kept = await store.packs.seq(key)
    assert kept == 13
    more = [scale.identity(i, ORG) for i in range(12, 15)]
    await store.identities.write_automatic(organization_id=ORG, identities=more, stored=())
    await store.identities.list_changed(organization_id=ORG, after_seq=0)
    assert await store.packs.seq(key) == kept  # 3 behind: not worth writing again
    current = await store.identities.list_current(organization_id=ORG)
    assert sorted(i.account_id for _, i in current) == sorted(
        scale.account_id(i) for i in range(15)
    )


async def test_a_small_organization_keeps_no_checkpoint(store: Store) -> None:
    await write_people(store, range(30))  # the default: from 5,000 documents
    await store.people.list_changed(organization_id=ORG, after_seq=0)
    assert await store.packs.seq(f"people|{ORG}") is None
    assert len(await store.people.list_current(organization_id=ORG)) == 30


async def test_a_new_directory_cache_starts_from_the_checkpoint(store: Store) -> None:
    store.people.checkpoints.pack_from = 10
    await write_people(store, range(20))
    await store.people.list_changed(organization_id=ORG, after_seq=0)
    await write_people(store, range(15, 25), name="later ")
    reads: list[str] = []

    async def changed(org: str, seq: int) -> list[tuple[int, Person]]:
        reads.append(f"changed {seq}")
        return await store.people.list_changed(organization_id=org, after_seq=seq)

    async def current(org: str) -> list[tuple[int, Person]]:
        reads.append("current")
        return await store.people.list_current(organization_id=org)

    cache: RevisionedCache[str, Person] = RevisionedCache(
        revision=lambda org: store.people.revision(organization_id=org),
        changed=changed,
        key=lambda p: p.id,
        current=current,
    )
    people = await cache.get(ORG)

    assert reads == ["current"]
    assert dict(people) == latest(await store.people.list_changed(organization_id=ORG, after_seq=0))
    await write_people(store, range(3), name="after ")
    assert (await cache.get(ORG))[person_id(ORG, scale.email(0))].name == "after 0"
    assert reads == ["current", "changed 30"]


async def test_a_checkpoint_that_cannot_be_written_is_logged_and_the_scan_stands(
    store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    store.people.checkpoints.pack_from = 10
    await write_people(store, range(20))

    async def refused(*args: object, **kwargs: object) -> int:
        raise RuntimeError("the server refused")

    monkeypatch.setattr(packs.Packs, "write", refused)
    with caplog.at_level(logging.WARNING, logger="services.store.packs"):
        scanned = await store.people.list_changed(organization_id=ORG, after_seq=0)

    assert len(scanned) == 20 and "could not keep a checkpoint of people" in caplog.text
    assert len(await store.people.list_current(organization_id=ORG)) == 20  # a scan again
