"""Writing the zip of an audit package: every file streamed, hashed as it is written.

``PackageZip`` wraps ``zipfile`` (deflated entries, written through ``ZipFile.open(name,
"w")``: nothing is held whole in memory) and remembers each file's SHA-256 and size for the
manifest. CSV and JSON helpers write rows as they come.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import IO, Any

from services.evidence.chain import canonical_json


class HashedFile:
    """A text file being written into the zip (UTF-8), hashed on the way."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._digest = hashlib.sha256()
        self.size = 0
        self._pending: list[bytes] = []
        self._pending_size = 0

    def write(self, text: str) -> None:
        data = text.encode("utf-8")
        self._digest.update(data)
        self.size += len(data)
        self._pending.append(data)
        self._pending_size += len(data)
        if self._pending_size >= 1 << 16:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            self._raw.write(b"".join(self._pending))
            self._pending, self._pending_size = [], 0

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()


class PackageZip:
    """The package being written; ``files`` is what the manifest lists."""

    def __init__(self, out: IO[bytes]) -> None:
        self._zip = zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6)
        self.files: list[dict[str, Any]] = []

    @contextmanager
    def text(self, path: str) -> Iterator[HashedFile]:
        """Write one file; it is listed (path, SHA-256, bytes) once closed. The text goes to
        a temporary file first (a zip takes one entry at a time; several files are written
        side by side), then into the zip in blocks: memory stays bounded either way."""
        with tempfile.TemporaryFile() as spool:
            out = HashedFile(spool)
            yield out
            out.flush()
            spool.seek(0)
            with self._zip.open(path, "w", force_zip64=True) as raw:
                shutil.copyfileobj(spool, raw, 1 << 20)
        self.files.append({"path": path, "sha256": out.sha256, "bytes": out.size})

    def put(self, path: str, text: str) -> None:
        with self.text(path) as out:
            out.write(text)

    def put_json(self, path: str, value: Any) -> None:
        self.put(path, json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n")

    def put_csv(self, path: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """A CSV file: ``header``, then each of ``rows`` as it comes (``CsvFile``)."""
        with self.text(path) as out:
            table = CsvFile(out, header)
            for row in rows:
                table.row(row)

    def put_manifest(self, manifest: Mapping[str, Any]) -> None:
        """The manifest itself is not listed in ``files`` (it lists them)."""
        text = json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        self._zip.writestr("manifest.json", text.encode("utf-8"))

    def close(self) -> None:
        self._zip.close()


class CsvFile:
    """Rows written to a ``HashedFile`` as CSV (header first)."""

    def __init__(self, out: HashedFile, header: Sequence[str]) -> None:
        self._out = out
        self._buffer = io.StringIO()
        self._csv = csv.writer(self._buffer, lineterminator="\r\n")
        self.row(header)

    def row(self, values: Sequence[Any]) -> None:
        self._csv.writerow(["" if v is None else _cell(v) for v in values])
        self._out.write(self._buffer.getvalue())
        self._buffer.seek(0)
        self._buffer.truncate()


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "; ".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return canonical_json(value)
    text = str(value)
    # A cell a spreadsheet would run as a formula is quoted with a leading apostrophe.
    return "'" + text if text[:1] in ("=", "+", "-", "@") and not _number(text) else text


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class JsonArray:
    """A JSON array written one item at a time (valid JSON, one item per line)."""

    def __init__(self, out: HashedFile) -> None:
        self._out = out
        self._first = True
        out.write("[")

    def item(self, value: Any) -> None:
        self._out.write(("\n" if self._first else ",\n") + canonical_json(value))
        self._first = False

    def close(self) -> None:
        self._out.write("\n]\n" if not self._first else "]\n")
