"""Evidence formats (ADR 011): records written in format 1 (lists inline, a fixture sealed by
the code of commit 7ff2a23) and format 2 (lists in chunks, a fixture sealed by commit 1896e68)
keep verifying beside today's format-3 records (format 2 plus who acted); a missing or changed
chunk is tampering reported at the first record that refers to it; the JSON export carries
every chunk once, checkable offline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from services.evidence.chain import canonical_json, sha256_hex
from services.evidence.chunks import parse_manifest, refs_of
from services.evidence.models import EvidenceRecord
from services.evidence.verify import LinkProblem
from services.models import Principal, Role
from services.store import Store
from services.store.evidence import to_record
from tests.evidence.support import KEY, chunks_of, entry, raw, service

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "format-1-chain.json").read_text())
FIXTURE_2 = json.loads((Path(__file__).parent / "fixtures" / "format-2-chain.json").read_text())
ORG = "org_v1"
VIEWER = Principal(organization_id=ORG, role=Role.VIEWER, api_key_id="key_1")


async def load_format_1(store: Store) -> list[EvidenceRecord]:
    """The fixture's stored documents and head, as Vigil wrote them before format 2."""
    await raw(store).insert_many([dict(d) for d in FIXTURE["records"]])
    await store._db["evidence_heads"].insert_one(dict(FIXTURE["head"]))
    return [to_record(d) for d in FIXTURE["records"]]


async def load_format_2(store: Store) -> list[EvidenceRecord]:
    """The format-1 fixture, then four format-2 records (n = 3, 4, 3, 6 of ``entry``) as Vigil
    wrote them before format 3, with their chunks and the sealed head."""
    old = await load_format_1(store)
    await raw(store).insert_many([dict(d) for d in FIXTURE_2["records"]])
    await chunks_of(store).insert_many([dict(d) for d in FIXTURE_2["chunks"]])
    head = dict(FIXTURE_2["head"])
    await store._db["evidence_heads"].replace_one({"_id": head["_id"]}, head)
    return [*old, *(to_record(d) for d in FIXTURE_2["records"])]


async def mixed_chain(store: Store) -> list[EvidenceRecord]:
    """Three format-1 records, four format-2 records, then four format-3 records appended by
    today's code; the population of n = 3 (``entry``) is the same list, stored once."""
    old = await load_format_2(store)
    evidence = service(store)
    new = []
    for n in (3, 4, 3, 6):
        record = await evidence.record(entry(ORG, n))
        new.append(record)
    return [*old, *new]


async def test_records_written_in_format_1_still_verify(store: Store) -> None:
    old = await load_format_1(store)
    assert {json.loads(r.body)["version"] for r in old} == {1}
    status = await service(store).verify(VIEWER)
    assert status.valid and status.checked_count == 3 and status.head_sequence == 3
    expanded = await service(store).expanded(VIEWER, old[1])
    assert expanded == old[1].content()  # nothing to read back: the lists are inline


async def test_formats_1_2_and_3_follow_each_other_in_one_chain(store: Store) -> None:
    records = await mixed_chain(store)
    assert [r.format_version() for r in records] == [1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]
    assert records[3].content()["prevHash"] == records[2].sha256
    assert records[7].content()["prevHash"] == records[6].sha256
    status = await service(store).verify(VIEWER)
    assert status.valid and status.checked_count == 11, status
    for record in (records[4], records[8]):  # a format-2 and a format-3 record read back
        body = await service(store).expanded(VIEWER, record)
        assert body["population"]["items"] == [{"pageId": "4", "title": "P4", "version": 4}]
        assert body["result"]["exceptedItems"] == []
    assert "actor" not in records[4].content()
    assert records[8].content()["actor"] == {"kind": "SYSTEM", "id": "vigil", "name": "Vigil"}
    # The same list is stored once: the records n = 3 (#4, #6, #8, #10) share every blob.
    assert refs_of(records[3].content()) == refs_of(records[9].content())


async def test_a_format_3_record_without_its_actor_is_malformed(store: Store) -> None:
    records = await mixed_chain(store)
    body = records[9].content()
    del body["actor"]
    text = canonical_json(body)
    await raw(store).update_one(
        {"_id": records[9].id},
        {"$set": {"body": text, "sha256": sha256_hex(text), "hmac": KEY.sign(sha256_hex(text))}},
    )
    status = await service(store).verify(VIEWER)
    assert status.broken is not None and status.broken.problem is LinkProblem.MALFORMED
    assert status.broken.sequence == 10 and "actor" in status.broken.message


async def test_a_format_1_record_edited_is_still_caught(store: Store) -> None:
    await mixed_chain(store)
    doc = FIXTURE["records"][1]
    edited = doc["body"].replace('"MFA is not enabled"', '"MFA is enabled"', 1)
    await raw(store).update_one({"_id": doc["_id"]}, {"$set": {"body": edited}})
    status = await service(store).verify(VIEWER)
    assert status.broken is not None and status.broken.problem is LinkProblem.HASH_MISMATCH
    assert status.broken.sequence == 2


def _population_root(record: EvidenceRecord) -> str:
    """The address of a record's population manifest."""
    [ref] = [r for place, r in refs_of(record.content()) if place == "population.items"]
    assert ref is not None
    return ref.root


async def _chunk_addresses(store: Store, root: str) -> list[str]:
    manifest = await chunks_of(store).find_one({"_id": f"{ORG}:{root}"})
    return [h for h, _ in parse_manifest(manifest["text"]).chunks]


async def _delete_chunk(store: Store, root: str) -> None:
    [address] = await _chunk_addresses(store, root)
    await chunks_of(store).delete_one({"_id": f"{ORG}:{address}"})


async def _edit_chunk(store: Store, root: str) -> None:
    [address] = await _chunk_addresses(store, root)
    doc = await chunks_of(store).find_one({"_id": f"{ORG}:{address}"})
    text = doc["text"].replace('"P3"', '"P9"')
    await chunks_of(store).update_one({"_id": doc["_id"]}, {"$set": {"text": text}})


async def _edit_chunk_and_its_address_field(store: Store, root: str) -> None:
    [address] = await _chunk_addresses(store, root)
    doc = await chunks_of(store).find_one({"_id": f"{ORG}:{address}"})
    text = doc["text"].replace('"P3"', '"P9"')
    fields = {"text": text, "sha256": sha256_hex(text)}  # the stored hash field is not trusted
    await chunks_of(store).update_one({"_id": doc["_id"]}, {"$set": fields})


async def _delete_manifest(store: Store, root: str) -> None:
    await chunks_of(store).delete_one({"_id": f"{ORG}:{root}"})


async def _edit_manifest(store: Store, root: str) -> None:
    doc = await chunks_of(store).find_one({"_id": f"{ORG}:{root}"})
    manifest = json.loads(doc["text"])
    manifest["chunks"] = manifest["chunks"] * 2
    manifest["count"] *= 2
    await chunks_of(store).update_one(
        {"_id": doc["_id"]}, {"$set": {"text": canonical_json(manifest)}}
    )


CHUNK_TAMPERING: dict[str, tuple[Any, LinkProblem]] = {
    "delete a chunk": (_delete_chunk, LinkProblem.CHUNK_MISSING),
    "edit a chunk": (_edit_chunk, LinkProblem.CHUNK_MISMATCH),
    "edit a chunk and its stored hash": (
        _edit_chunk_and_its_address_field,
        LinkProblem.CHUNK_MISMATCH,
    ),
    "delete a manifest": (_delete_manifest, LinkProblem.CHUNK_MISSING),
    "edit a manifest": (_edit_manifest, LinkProblem.CHUNK_MISMATCH),
}


@pytest.mark.parametrize("case", list(CHUNK_TAMPERING))
async def test_chunk_tampering_is_reported_at_the_first_record_that_refers_to_it(
    store: Store, case: str
) -> None:
    records = await mixed_chain(store)
    shared = records[3]  # #4 and #6 refer to the same population (n = 3)
    root = _population_root(shared)
    tamper, problem = CHUNK_TAMPERING[case]
    await tamper(store, root)
    status = await service(store).verify(VIEWER)
    assert status.broken is not None, status
    assert status.broken.problem is problem, status.broken
    assert (status.broken.sequence, status.broken.record_id) == (4, shared.id)
    assert "population.items" in status.broken.message
    assert status.checked_count == 3


async def test_the_json_export_ships_every_chunk_once(store: Store) -> None:
    records = await mixed_chain(store)
    export = await service(store).open_export(VIEWER, "confluence-document-setup", "json")
    document = json.loads(b"".join([c async for c in export.chunks]))
    assert document["format"] == "vigil-evidence/2" and document["unavailableLists"] == []
    shipped = [r["record"] for r in document["records"]]
    mine = [r for r in records if r.check_id == "confluence-document-setup"]
    assert [s["id"] for s in shipped] == [r.id for r in mine] and len(mine) == 4
    blobs = document["blobs"]
    assert all(sha256_hex(text) == address for address, text in blobs.items())
    for record in shipped:  # the lists read back offline, from the file alone
        for _, ref in refs_of(record):
            assert ref is not None
            manifest = parse_manifest(blobs[ref.root])
            values = [v for h, _ in manifest.chunks for v in json.loads(blobs[h])]
            assert len(values) == ref.count
    await _delete_chunk(store, _population_root(mine[0]))
    export = await service(store).open_export(VIEWER, "confluence-document-setup", "json")
    broken = json.loads(b"".join([c async for c in export.chunks]))
    assert [u["root"] for u in broken["unavailableLists"]] == [_population_root(mine[0])]
