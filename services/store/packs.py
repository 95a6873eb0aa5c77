"""Packs: a copy of many small documents in a few large ones, for the reads that want them
all (ADR 026).

A cold evaluation reads every account of the current snapshot and every person and identity
of the organization: 280,000 documents at 100,000 accounts. A server's cost is per document
as much as per byte (SecantusDB serves 100,000 snapshot accounts in about 3.5 s one by one and
in about 1 s as a hundred binary values), so the reads that want everything read a *pack*:
the same documents, BSON-encoded back to back (``bson.decode_all`` reads them), in chunks of
at most ``CHUNK_BYTES`` compressed with zlib (format 2; format 1, uncompressed, is still
read). The documents stay the truth — pages, filters and writes use them, and any pack a
reader cannot use whole (missing, cut short, of another format) means reading the documents
instead.

``packs`` holds, per key, a header (``_id`` the key: ``seq``, ``rows``, ``chunks``, the
writing's ``token``, ``format``) and its chunks (``{key}~{token}~{n}``). A writer writes its
chunks first, then the header, then deletes every other writing's chunks of the key, so a
reader sees the old pack or the new one whole, or (its chunks deleted under it) none, and
a writer that stopped half-way leaves nothing behind the next one.
"""

from __future__ import annotations

import logging
import secrets
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import KW_ONLY, dataclass, field
from itertools import chain
from typing import Any

import bson
from bson.codec_options import CodecOptions

from services.store.common import batches, utcnow
from services.store.revisions import RevisionRepository

log = logging.getLogger(__name__)

FORMAT = 2  # chunks compressed with zlib
PACK_FROM = 5_000  # a collection smaller than this is read document by document
CHUNK_BYTES = 512 * 1024  # before compression: far below the store's 4 MB guard (``guard.py``)
# zlib's fastest level: most of what a higher one gains, at a fraction of the time.
LEVEL = 1
# How a chunk of each readable format becomes its BSON documents back to back.
_UNPACK: dict[int, Callable[[bytes], bytes]] = {1: bytes, 2: zlib.decompress}
_DECODE: CodecOptions[dict[str, Any]] = CodecOptions(tz_aware=True)  # as clients read (client.py)


@dataclass(frozen=True, slots=True)
class Pack:
    """A pack read whole: the ``seq`` it was written at, its chunks as stored (compressed
    in ``format`` 2)."""

    seq: int
    rows: int
    chunks: list[bytes]
    format: int = FORMAT

    def documents(self) -> Iterator[dict[str, Any]]:
        """Its documents in the order written, decompressed and decoded a chunk at a time."""
        unpack = _UNPACK[self.format]
        for chunk in self.chunks:
            yield from bson.decode_all(unpack(chunk), _DECODE)


class Packs:
    """The ``packs`` collection."""

    def __init__(self, db: Any) -> None:
        self._col = db["packs"]

    async def ensure_indexes(self) -> None:
        """A pack's chunks are read and deleted by key and writing."""
        await self._col.create_index([("key", 1), ("token", 1), ("n", 1)])

    async def read(self, key: str) -> Pack | None:
        """The pack of ``key``, or None: none written, or not readable whole."""
        header = await self._col.find_one({"_id": key})
        if header is None:
            return None
        if header.get("format") not in _UNPACK:
            return None
        chunks = self._col.find({"key": key, "token": header["token"]}).sort("n", 1)
        data: list[bytes] = []
        rows = 0
        async for chunk in chunks:
            if chunk["n"] != len(data):
                break
            data.append(bytes(chunk["data"]))
            rows += int(chunk["rows"])
        if len(data) != header["chunks"] or rows != header["rows"]:
            log.warning("the pack %s is not whole: its documents are read instead", key)
            return None
        return Pack(int(header["seq"]), rows, data, int(header["format"]))

    def writer(self, key: str, seq: int, *, tags: Mapping[str, Any]) -> PackWriter:
        """A pack of ``key`` at ``seq`` written as documents are added (``tags`` on every
        document of it); it replaces any pack of ``key`` when closed."""
        return PackWriter(self._col, key, seq, tags)

    async def write(
        self, key: str, seq: int, documents: Iterable[Mapping[str, Any]], *, tags: Mapping[str, Any]
    ) -> int:
        """Write ``documents`` as the pack of ``key``; how many it holds."""
        writer = self.writer(key, seq, tags=tags)
        for document in documents:
            await writer.add(document)
        return await writer.close()

    async def seq(self, key: str) -> int | None:
        """The ``seq`` of the pack of ``key`` (None: none written)."""
        header = await self._col.find_one({"_id": key}, {"seq": 1})
        return None if header is None else int(header["seq"])

    async def delete(self, key: str) -> None:
        """Delete the pack of ``key`` (header first: a reader then finds none)."""
        await self._col.delete_one({"_id": key})
        await self._col.delete_many({"key": key})


class PackWriter:
    """One writing of a pack: chunks are inserted as they fill, the header on ``close``."""

    def __init__(self, col: Any, key: str, seq: int, tags: Mapping[str, Any]) -> None:
        self._col, self._key, self._seq, self._tags = col, key, seq, tags
        self._token = secrets.token_hex(8)
        self._parts: list[bytes] = []
        self._size = self._rows = self._chunks = 0

    async def add(self, document: Mapping[str, Any]) -> None:
        """Add a document (a chunk is written when the next would pass ``CHUNK_BYTES``; a
        single larger document is a chunk of its own)."""
        encoded = bson.encode(document)
        if self._parts and self._size + len(encoded) > CHUNK_BYTES:
            await self._flush()
        self._parts.append(encoded)
        self._size += len(encoded)

    async def close(self) -> int:
        """Write the last chunk and the header, and delete every other writing's chunks of
        the key (the replaced pack's, any a writer that stopped half-way left); how many
        documents the pack holds."""
        if self._parts:
            await self._flush()
        header: dict[str, Any] = {"seq": self._seq, "rows": self._rows, "chunks": self._chunks}
        header |= {"token": self._token, "format": FORMAT, "written_at": utcnow()}
        await self._col.replace_one({"_id": self._key}, {**header, **self._tags}, upsert=True)
        await self._col.delete_many({"key": self._key, "token": {"$ne": self._token}})
        return self._rows

    async def _flush(self) -> None:
        chunk: dict[str, Any] = {"_id": f"{self._key}~{self._token}~{self._chunks:06d}"}
        chunk["key"] = self._key
        chunk |= {"token": self._token, "n": self._chunks, "rows": len(self._parts)}
        chunk["data"] = bson.Binary(zlib.compress(b"".join(self._parts), LEVEL))
        await self._col.insert_one({**chunk, **self._tags})
        self._rows += len(self._parts)
        self._chunks += 1
        self._parts, self._size = [], 0


def accounts_pack(snapshot_id: str) -> str:
    """The key of the pack of a snapshot's accounts (by account id)."""
    return f"accounts|{snapshot_id}"


@dataclass(eq=False, repr=False)
class Checkpoints:
    """An organization's people or identities (a revisioned collection: every write stamps
    a ``seq`` from ``revisions``) read whole from a pack of them up to a revision and the
    documents written since.

    A full scan keeps a pack (a *checkpoint*) when it read at least ``pack_from`` documents
    and the stored one is missing or ``pack_from`` revisions behind. Its ``seq`` is the
    revision read before the scan while no writer was at work: every document written up to
    it is in the scan (in that version or a later one), and any later version has a greater
    ``seq``, so the checkpoint and the documents after its ``seq`` are the whole collection.
    Documents of these collections are never deleted. Only a full scan writes one, so the
    directory's whole reload (its safety net, ``services/identity/caches.py``) still reads
    every document.
    """

    db: Any
    collection: str
    _: KW_ONLY
    revision: str
    revisions: RevisionRepository
    pack_from: int
    _col: Any = field(init=False)
    _packs: Packs = field(init=False)

    def __post_init__(self) -> None:
        self._col = self.db[self.collection]
        self._packs = Packs(self.db)

    async def changed(self, organization_id: str, after_seq: int) -> list[dict[str, Any]]:
        """The documents written after revision ``after_seq``; every one for 0 (a full
        scan, which keeps a checkpoint as above)."""
        if after_seq > 0:
            return await self._since(organization_id, after_seq)
        state = await self.revisions.state(organization_id=organization_id, name=self.revision)
        documents = await self._since(organization_id, 0)
        if len(documents) >= self.pack_from and not state.writing:
            await self._keep(organization_id, state.value, documents)
        return documents

    async def current(self, organization_id: str) -> Iterator[dict[str, Any]]:
        """Every document, from the checkpoint and what was written since (a full scan
        without a checkpoint); each once, in its latest version. The checkpoint's documents
        are decoded a chunk at a time as the caller iterates (a million people are never
        held as documents at once): what was written since first, then the checkpoint's
        documents that it did not replace."""
        pack = await self._packs.read(self._key(organization_id))
        if pack is None:
            return iter(await self.changed(organization_id, 0))
        since = await self._since(organization_id, pack.seq)
        replaced = {d["_id"] for d in since}
        return chain(since, (d for d in pack.documents() if d["_id"] not in replaced))

    async def _since(self, organization_id: str, seq: int) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"organization_id": organization_id}
        if seq > 0:
            query["seq"] = {"$gt": seq}
        return [d async for batch in batches(self._col.find(query)) for d in batch]

    async def _keep(self, organization_id: str, seq: int, documents: list[dict[str, Any]]) -> None:
        key = self._key(organization_id)
        held = await self._packs.seq(key)
        if held is not None and seq - held < self.pack_from:
            return
        try:
            await self._packs.write(key, seq, documents, tags={"organization_id": organization_id})
        except Exception:  # the scan's answer stands; the next full scan tries again
            log.warning("could not keep a checkpoint of %s", self.revision, exc_info=True)

    def _key(self, organization_id: str) -> str:
        return f"{self.revision}|{organization_id}"


__all__ = [
    "CHUNK_BYTES",
    "FORMAT",
    "PACK_FROM",
    "Checkpoints",
    "Pack",
    "PackWriter",
    "Packs",
    "accounts_pack",
]
