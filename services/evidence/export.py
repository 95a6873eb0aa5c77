"""Streaming encoders of evidence exports: JSON (one document) and CSV (one row per record).

Both consume an async iterator of records (a database cursor) and yield byte chunks of
about ``CHUNK_BYTES``, so memory stays constant whatever the number of records.

The JSON export (``vigil-evidence/2``) embeds each record's sealed body verbatim and, after
the records, ``blobs``: every manifest and chunk the format-2 records refer to (ADR 011),
each once, as ``{address: text}`` — ``sha256(text) == address``, so an auditor checks the
lists offline exactly as ``verifyEvidenceChain`` does. A list that cannot be read is named
in ``unavailableLists`` instead of breaking the file half-way.
"""

from __future__ import annotations

import csv
import enum
import io
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from services.evidence.chain import chunked
from services.evidence.chunks import ChunkProblem, ListReader, ListRef, list_length, refs_of
from services.evidence.models import EvidenceRecord

CHUNK_BYTES = 64 * 1024
EXPORT_FORMAT = "vigil-evidence/2"
CSV_COLUMNS = (
    "sequence",
    "id",
    "checkId",
    "evaluatedAt",
    "status",
    "failingItems",
    "exceptedItems",
    "snapshotId",
    "dataAsOf",
    "prevHash",
    "sha256",
    "hmac",
    "keyId",
    "record",
)


class ExportFormat(enum.StrEnum):
    """The formats ``GET /evidence/export`` offers."""

    JSON = "json"
    CSV = "csv"


@dataclass(frozen=True, slots=True)
class EvidenceExport:
    """A ready-to-stream export: nothing is read until ``chunks`` is iterated."""

    media_type: str
    filename: str
    chunks: AsyncIterator[bytes]


async def json_chunks(
    header: Mapping[str, Any], records: AsyncIterator[EvidenceRecord], lists: ListReader
) -> AsyncIterator[bytes]:
    """``{...header, "records": [...], "blobs": {...}, "unavailableLists": [...]}`` with each
    record's sealed body embedded verbatim and the blobs of its lists after the records."""
    opening = json.dumps(dict(header), sort_keys=True, ensure_ascii=False)[:-1]
    buffer = [opening, ',"records":[']
    size, first = 0, True
    refs: dict[str, ListRef] = {}  # roots to ship, in the order records name them
    async for record in records:
        buffer.append(("" if first else ",") + "\n" + _json_record(record))
        size += len(buffer[-1])
        first = False
        if chunked(record.format_version()):
            refs.update((ref.root, ref) for _, ref in refs_of(record.content()) if ref)
        if size >= CHUNK_BYTES:
            yield "".join(buffer).encode()
            buffer, size = [], 0
    buffer.append('\n],"blobs":{')
    shipped: set[str] = set()
    unavailable: list[dict[str, str]] = []
    for ref in refs.values():
        try:
            async for blob in lists.blobs(ref):
                if blob.sha256 in shipped:
                    continue
                comma = "," if shipped else ""
                shipped.add(blob.sha256)
                buffer.append(f"{comma}\n{json.dumps(blob.sha256)}:")
                buffer.append(json.dumps(blob.text, ensure_ascii=False))
                size += len(buffer[-1])
                if size >= CHUNK_BYTES:
                    yield "".join(buffer).encode()
                    buffer, size = [], 0
        except ChunkProblem as problem:
            unavailable.append({"root": ref.root, "problem": problem.message})
    buffer.append(f'\n}},"unavailableLists":{json.dumps(unavailable)}}}\n')
    yield "".join(buffer).encode()


def _json_record(record: EvidenceRecord) -> str:
    meta = {
        "id": record.id,
        "sequence": record.sequence,
        "sha256": record.sha256,
        "hmac": record.hmac,
        "keyId": record.key_id,
    }
    # The body is canonical JSON already: embedding it unchanged keeps the hashed bytes.
    return json.dumps(meta, sort_keys=True)[:-1] + ',"record":' + record.body + "}"


async def csv_chunks(records: AsyncIterator[EvidenceRecord]) -> AsyncIterator[bytes]:
    """A header row, then one row per record; ``record`` holds the sealed canonical body."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    async for record in records:
        writer.writerow(_csv_row(record))
        if out.tell() >= CHUNK_BYTES:
            yield out.getvalue().encode()
            out.seek(0)
            out.truncate()
    yield out.getvalue().encode()


def _csv_row(record: EvidenceRecord) -> list[str]:
    body = record.content()
    result = body.get("result") if isinstance(body.get("result"), dict) else {}
    assert isinstance(result, dict)
    snapshot = body.get("snapshot") if isinstance(body.get("snapshot"), dict) else {}
    assert isinstance(snapshot, dict)
    return [
        str(record.sequence),
        record.id,
        record.check_id,
        str(body.get("evaluatedAt", "")),
        str(result.get("status", "")),
        str(list_length(result.get("failingItems"))),
        str(list_length(result.get("exceptedItems"))),
        str(snapshot.get("id") or ""),
        str(snapshot.get("takenAt") or ""),
        str(body.get("prevHash", "")),
        record.sha256,
        record.hmac,
        record.key_id,
        record.body,
    ]
