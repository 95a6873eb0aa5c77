"""Signed checkpoints sent off the database (ADR 008): where the worker's go, and reading
them back.

Every ``EVIDENCE_CHECKPOINT_MINUTES`` the worker signs each organization's chain head and
hands it to its sinks: a file (one JSON line per checkpoint, appended and flushed to disk)
and/or a webhook (``api/container.py`` builds that one: it needs the HTTP client). A file
sink is also read back by ``EvidenceService.verify``: the newest checkpoint of the
organization there holds the chain to what it was then, so a rewind (records deleted and an
older sealed head put back, with whatever pointed at them) is found without anyone having
taken a checkpoint by hand.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol


class CheckpointSink(Protocol):
    """Somewhere outside the database a signed checkpoint is sent to."""

    name: str

    async def send(self, point: Mapping[str, Any]) -> None:
        """Deliver one checkpoint (raise when it could not be delivered)."""


class KeptCheckpoints(Protocol):
    """Checkpoints kept outside the database that verification reads back."""

    async def latest(self, organization_id: str) -> dict[str, Any] | None:
        """The newest checkpoint kept for the organization (highest sequence)."""


class CheckpointFile:
    """A file of checkpoints, one JSON object per line, only ever appended to.

    Put it where a database writer cannot reach (another volume, a mounted bucket, WORM
    storage). Lines that do not parse are skipped when reading (a torn last line after a
    crash); the newest checkpoint of an organization is its highest sequence.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.name = f"file {self.path}"
        self._lock = asyncio.Lock()

    async def send(self, point: Mapping[str, Any]) -> None:
        line = json.dumps(point, sort_keys=True, separators=(",", ":")) + "\n"
        async with self._lock:
            await asyncio.to_thread(self._append, line)

    def _append(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as out:
            out.write(line)
            out.flush()
            os.fsync(out.fileno())

    async def latest(self, organization_id: str) -> dict[str, Any] | None:
        return await asyncio.to_thread(self._latest, organization_id)

    def _latest(self, organization_id: str) -> dict[str, Any] | None:
        best: dict[str, Any] | None = None
        try:
            lines = self.path.open(encoding="utf-8")
        except FileNotFoundError:
            return None
        with lines:
            for line in lines:
                try:
                    point = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(point, dict) or point.get("organizationId") != organization_id:
                    continue
                sequence = point.get("sequence")
                if isinstance(sequence, int) and (best is None or sequence >= best["sequence"]):
                    best = point
        return best
