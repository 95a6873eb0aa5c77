"""Evidence records as domain values: what is sealed, what is stored, the chain's head.

This module is a leaf: the store maps documents to these, and ``chain`` / ``verify`` build
and check them; it imports nothing from the store or the services.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class EvidenceEntry:
    """What a check evaluation hands to evidence: the result and the population it judged."""

    organization_id: str
    check_id: str
    evaluated_at: datetime
    result: Mapping[str, Any]
    population: Mapping[str, Any]
    snapshot_id: str | None = None
    integration_id: str | None = None
    snapshot_at: datetime | None = None
    # At most one record of the organization is made of an entry with this key: the record's
    # id is derived from it and the store refuses a second record with the same id (what an
    # action records once whatever crashes; remediation: one per action attempt).
    unique_key: str | None = None
    # ``canonical_json(population)`` when the caller already has it (the recorder keeps it
    # per population, so several checks over one population serialise it once). It must be
    # exactly that text: it is spliced into the body in place of serialising ``population``.
    population_json: str | None = None


@dataclass(frozen=True, slots=True)
class EvidenceRecord:
    """A sealed record as stored: ``body`` is exactly the text that was hashed."""

    id: str
    organization_id: str
    sequence: int
    check_id: str
    body: str
    sha256: str
    hmac: str
    key_id: str
    snapshot_id: str | None = None
    integration_id: str | None = None

    def content(self) -> dict[str, Any]:
        """The parsed body (``{}`` if it is not a JSON object)."""
        try:
            parsed = json.loads(self.body)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}


class SequenceTaken(Exception):
    """Another writer appended at this sequence first: read the tail again and retry."""


class AlreadyRecorded(Exception):
    """A record with this id (derived from an entry's ``unique_key``) is already stored."""


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The newest sequence an organization's chain is known to have reached, and its hash.

    ``hmac`` seals the three (``EvidenceKey.sign_head``), so a database writer cannot move
    the head back after deleting the newest records.
    """

    sequence: int
    sha256: str
    hmac: str = ""
