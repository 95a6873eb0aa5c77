"""Long lists kept apart from evidence records, in bounded content-addressed chunks (ADR 011).

The interface, for whoever stores, verifies or ships evidence (export, auditor bundles,
anchoring):

- ``chunk_texts(texts)`` / ``chunk_values(values)`` cut a list into a ``ChunkedList``: chunks
  (``Blob``: canonical JSON array text of consecutive values, at most ``MAX_CHUNK_CHARS``
  characters) and a manifest (``Blob``: ``{"chunks": [{"count", "sha256"}…], "count",
  "format": "vigil-chunks/1"}`` in canonical JSON) whose SHA-256 is the list's ``root``.
  Every blob is addressed by the SHA-256 of its text (UTF-8): equal content, equal address,
  stored once.
- A record (body format 2) holds ``{"count", "root"}`` where the list was (each of
  ``LIST_PATHS`` the body has; never a list there).
- ``ChunkStore`` is what persists blobs (``services/store/evidence_chunks.py``): ``put`` the
  missing ones, ``get`` texts by address. Blobs are never updated or deleted.
- ``ListReader`` reads a list back (``read``) and checks it (``check``): the manifest and every
  chunk must be present and hash to their address; what it verified once is not read again.

Cutting is content-defined: a chunk ends after a value whose CRC-32 falls under a threshold
proportional to its length (on average every ``TARGET_CHUNK_CHARS`` characters), or before
the value that would take it over ``MAX_CHUNK_CHARS``. A change to one value changes the
chunk holding it (and rarely its neighbour), not every chunk after it, so a population that
changed in a few accounts stores a few new chunks. Verification never re-cuts: it only
hashes, so the cutting rule can change without affecting stored evidence.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from services.evidence.chain import canonical_json, sha256_hex
from services.evidence.models import Blob, ChunkedList

FORMAT = "vigil-chunks/1"
# Characters, not bytes: a character is at most 4 bytes in UTF-8, so a chunk stays under
# 800 KB whatever its text, and about 200 KB for the ASCII of accounts and items.
MAX_CHUNK_CHARS = 192 * 1024
TARGET_CHUNK_CHARS = 64 * 1024
# The places of a format-2 body that hold a reference instead of a list.
LIST_PATHS: tuple[tuple[str, str], ...] = (
    ("population", "items"),
    ("result", "failingItems"),
    ("result", "exceptedItems"),
    ("result", "exceptions"),
)
# Blobs read per round trip (each at most MAX_CHUNK_CHARS), and read ahead at most.
READ_BATCH = 32
READ_AHEAD = 128


def cuts_after(text: str, *, target: int = TARGET_CHUNK_CHARS) -> bool:
    """Whether a chunk ends after this value's text (the content-defined boundary)."""
    threshold = min(len(text) + 1, target) * (1 << 32) // target
    return zlib.crc32(text.encode("utf-8")) < threshold


def chunk_texts(
    texts: Sequence[str],
    *,
    cuts: Sequence[bool] | None = None,
    max_chars: int = MAX_CHUNK_CHARS,
) -> ChunkedList:
    """The chunked form of a list given as the canonical text of each value.

    ``cuts`` (``cuts_after`` of each text) may be given when the caller keeps them per
    value; a single value longer than ``max_chars`` is a chunk of its own.
    """
    boundaries = cuts if cuts is not None else [cuts_after(t) for t in texts]
    chunks: list[Blob] = []
    counts: list[int] = []
    current: list[str] = []
    size = 0

    def close() -> None:
        nonlocal current, size
        if current:
            text = f"[{','.join(current)}]"
            chunks.append(Blob(sha256_hex(text), text))
            counts.append(len(current))
            current, size = [], 0

    for text, cut in zip(texts, boundaries, strict=True):
        if current and size + len(text) + 1 > max_chars:
            close()
        current.append(text)
        size += len(text) + 1
        if cut:
            close()
    close()
    manifest_text = canonical_json(
        {
            "chunks": [
                {"count": n, "sha256": c.sha256} for c, n in zip(chunks, counts, strict=True)
            ],
            "count": len(texts),
            "format": FORMAT,
        }
    )
    manifest = Blob(sha256_hex(manifest_text), manifest_text)
    return ChunkedList(
        root=manifest.sha256, count=len(texts), manifest=manifest, chunks=tuple(chunks)
    )


def chunk_values(values: Iterable[Any]) -> ChunkedList:
    """The chunked form of a list of JSON-ready values (``canonical_json`` of each)."""
    return chunk_texts([canonical_json(v) for v in values])


@dataclass(frozen=True, slots=True)
class ListRef:
    """A reference to a chunked list, as a format-2 body holds it."""

    root: str
    count: int


def parse_ref(value: Any) -> ListRef | None:
    """The reference ``value`` is (``{"count", "root"}``), or None if it is not one."""
    if not isinstance(value, Mapping) or set(value) != {"count", "root"}:
        return None
    root, count = value["root"], value["count"]
    if not (_is_hash(root) and isinstance(count, int) and not isinstance(count, bool)):
        return None
    return ListRef(root=root, count=count) if count >= 0 else None


def refs_of(body: Mapping[str, Any]) -> list[tuple[str, ListRef | None]]:
    """Each list place a format-2 body has (``"population.items"``…; a remediation record
    has no failing items, for one) and its reference (None where the body holds something
    else there)."""
    found = []
    for parent, name in LIST_PATHS:
        holder = body.get(parent)
        if isinstance(holder, Mapping) and name in holder:
            found.append((f"{parent}.{name}", parse_ref(holder[name])))
    return found


def list_length(value: Any) -> int:
    """How many values a list place holds: a list's length or a reference's count."""
    if isinstance(value, list):
        return len(value)
    ref = parse_ref(value)
    return ref.count if ref is not None else 0


@dataclass(frozen=True, slots=True)
class Manifest:
    """A parsed manifest: the chunks' addresses with how many values each holds."""

    chunks: tuple[tuple[str, int], ...]
    count: int


def parse_manifest(text: str) -> Manifest:
    """The manifest ``text`` holds; ``ValueError`` if it is not one."""
    raw = json.loads(text)
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise ValueError("not a vigil-chunks/1 manifest")
    entries = raw.get("chunks")
    count = raw.get("count")
    if not isinstance(entries, list) or not isinstance(count, int):
        raise ValueError("a manifest needs chunks and count")
    chunks = []
    for entry in entries:
        if not isinstance(entry, dict) or not _is_hash(entry.get("sha256")):
            raise ValueError("a manifest entry needs a sha256")
        n = entry.get("count")
        if not isinstance(n, int) or n < 1:
            raise ValueError("a manifest entry needs a positive count")
        chunks.append((str(entry["sha256"]), n))
    if sum(n for _, n in chunks) != count:
        raise ValueError("the manifest's counts do not add up")
    return Manifest(chunks=tuple(chunks), count=count)


_HASH = re.compile(r"[0-9a-f]{64}")


def _is_hash(value: Any) -> bool:
    return isinstance(value, str) and _HASH.fullmatch(value) is not None


class ChunkStore(Protocol):
    """Where blobs live (``services/store/evidence_chunks.py``), per organization.

    Append-only like the records: there is no way to change or remove a blob.
    """

    async def put(self, organization_id: str, blobs: Sequence[Blob]) -> int:
        """Store the blobs not stored yet (by address); how many were written."""

    async def get(self, organization_id: str, addresses: Sequence[str]) -> dict[str, str]:
        """The stored texts of ``addresses`` found, by address."""


async def expand(body: Mapping[str, Any], lists: ListReader) -> dict[str, Any]:
    """A format-2 body with each reference replaced by its list read back (checked): the
    record as format 1 would have held it. A format-1 body is returned as it is."""
    if body.get("version") not in (2, 3):  # formats with chunked lists (chain.CHUNKED_VERSIONS)
        return dict(body)
    out = {k: dict(v) if isinstance(v, Mapping) else v for k, v in body.items()}
    for parent, name in LIST_PATHS:
        holder = out.get(parent)
        ref = parse_ref(holder.get(name)) if isinstance(holder, dict) else None
        if isinstance(holder, dict) and ref is not None:
            holder[name] = await lists.read(ref)
    return out


class ChunkProblem(Exception):
    """A list cannot be read back as sealed: ``missing`` (a blob is gone) or altered."""

    def __init__(self, message: str, *, missing: bool) -> None:
        super().__init__(message)
        self.message = message
        self.missing = missing


class ListReader:
    """Reads and checks chunked lists of one organization.

    ``verified`` holds the addresses already read and found intact during this reader's
    life: a population shared by many records is read and hashed once per verification.
    """

    def __init__(self, store: ChunkStore, organization_id: str) -> None:
        self._store = store
        self._org = organization_id
        self.verified: set[str] = set()
        self._ahead: dict[str, str] = {}

    async def prefetch(self, refs: Iterable[ListRef]) -> None:
        """Read ahead, in a few round trips, the manifests of the lists not verified yet and
        up to ``READ_AHEAD`` of their chunks, for the ``check`` calls that follow (a chain of
        many small records is then read in batches, not two round trips per list). Replaces
        what the previous call read ahead."""
        self._ahead = {}
        roots = list(dict.fromkeys(r.root for r in refs if r.root not in self.verified))
        manifests = await self._fetch(roots)
        wanted: dict[str, None] = {}
        for text in manifests.values():
            try:
                listed = parse_manifest(text).chunks
            except ValueError:
                continue  # reported by ``check``
            wanted.update((h, None) for h, _ in listed if h not in self.verified)
        chunks = await self._fetch(list(wanted)[:READ_AHEAD])
        self._ahead = {**manifests, **chunks}

    async def _fetch(self, addresses: Sequence[str]) -> dict[str, str]:
        """Blobs by address, from what was read ahead or else the store (batched)."""
        found = {a: self._ahead[a] for a in addresses if a in self._ahead}
        missing = [a for a in dict.fromkeys(addresses) if a not in found]
        for start in range(0, len(missing), READ_BATCH):
            found.update(await self._store.get(self._org, missing[start : start + READ_BATCH]))
        return found

    async def check(self, ref: ListRef) -> None:
        """Raise ``ChunkProblem`` unless the list is complete and every blob intact."""
        if ref.root in self.verified:
            return
        async for _ in self._blobs(ref, keep=False):
            pass

    async def read(self, ref: ListRef) -> list[Any]:
        """The list's values, checked as ``check`` does."""
        values: list[Any] = []
        blobs = self._blobs(ref, keep=True)
        await anext(blobs)  # the manifest
        async for blob in blobs:
            values.extend(json.loads(blob.text))
        return values

    def blobs(self, ref: ListRef) -> AsyncIterator[Blob]:
        """The list's manifest, then its chunks in order, each checked (e.g. to ship them)."""
        return self._blobs(ref, keep=True)

    async def _blobs(self, ref: ListRef, *, keep: bool) -> AsyncIterator[Blob]:
        text = (await self._fetch([ref.root])).get(ref.root)
        if text is None:
            raise ChunkProblem(f"the manifest {ref.root[:12]}… is missing", missing=True)
        if sha256_hex(text) != ref.root:
            raise ChunkProblem(f"the manifest {ref.root[:12]}… was changed", missing=False)
        try:
            manifest = parse_manifest(text)
        except ValueError as exc:
            message = f"the manifest {ref.root[:12]}… is unreadable: {exc}"
            raise ChunkProblem(message, missing=False) from None
        if manifest.count != ref.count:
            message = f"the manifest lists {manifest.count} values, the record {ref.count}"
            raise ChunkProblem(message, missing=False)
        yield Blob(ref.root, text)
        addresses = [h for h, _ in manifest.chunks]
        for start in range(0, len(addresses), READ_BATCH):
            batch = addresses[start : start + READ_BATCH]
            wanted = batch if keep else [h for h in batch if h not in self.verified]
            found = await self._fetch(wanted)
            for address in wanted:
                chunk = found.get(address)
                if chunk is None:
                    raise ChunkProblem(f"the chunk {address[:12]}… is missing", missing=True)
                if address not in self.verified:
                    if sha256_hex(chunk) != address:
                        message = f"the chunk {address[:12]}… was changed"
                        raise ChunkProblem(message, missing=False)
                    self.verified.add(address)
                yield Blob(address, chunk)
        self.verified.add(ref.root)


__all__ = [
    "FORMAT",
    "LIST_PATHS",
    "MAX_CHUNK_CHARS",
    "ChunkProblem",
    "ChunkStore",
    "ListReader",
    "ListRef",
    "Manifest",
    "chunk_texts",
    "chunk_values",
    "cuts_after",
    "expand",
    "list_length",
    "parse_manifest",
    "parse_ref",
    "refs_of",
]
