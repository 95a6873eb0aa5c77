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

from services.models import Role


@dataclass(frozen=True, slots=True)
class Blob:
    """A content-addressed text: ``sha256`` is the hex SHA-256 of ``text`` as UTF-8."""

    sha256: str
    text: str


@dataclass(frozen=True, slots=True)
class ChunkedList:
    """A list of JSON values kept apart from a record (ADR 011): cut into ``chunks`` (each
    the canonical JSON array of some consecutive values), listed in order by ``manifest``,
    whose hash is the list's ``root``. A record holds only ``ref()``."""

    root: str
    count: int
    manifest: Blob
    chunks: tuple[Blob, ...]
    # How many of the manifest's chunks are left out of ``chunks`` because their producer
    # knows them stored already (a long list re-cut after a change of a few values carries
    # only its new chunks); 0: ``chunks`` holds every chunk.
    omitted: int = 0

    def ref(self) -> dict[str, Any]:
        """What the sealed body holds in place of the list: ``{"count", "root"}``."""
        return {"count": self.count, "root": self.root}

    def blobs(self) -> tuple[Blob, ...]:
        """Everything to store for the list: the manifest, then its chunks (those not known
        stored)."""
        return (self.manifest, *self.chunks)


@dataclass(frozen=True, slots=True)
class EvidenceEntry:
    """What a check evaluation hands to evidence: the result and the population it judged.

    In the body's format 2 (ADR 011) its long lists (the population's items, the failing
    and excepted items, the exceptions) are references (``ChunkedList.ref()``) inside
    ``result`` and ``population``; ``lists`` holds those lists, stored before the record.
    """

    organization_id: str
    check_id: str
    evaluated_at: datetime
    result: Mapping[str, Any]
    population: Mapping[str, Any]
    snapshot_id: str | None = None
    integration_id: str | None = None
    snapshot_at: datetime | None = None
    lists: tuple[ChunkedList, ...] = ()
    # At most one record of the organization is made of an entry with this key: the record's
    # id is derived from it and the store refuses a second record with the same id (what an
    # action records once whatever crashes; remediation: one per action attempt).
    unique_key: str | None = None
    # Who caused the record (format 3): ``{"kind": "PERSON"|"API_KEY"|"SYSTEM", "id", ...}``
    # as sealed, or only ``actor_id`` for the evidence service to describe; neither: SYSTEM.
    actor: Mapping[str, Any] | None = None
    actor_id: str | None = None


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

    def format_version(self) -> int | None:
        """The body's ``version`` (1: lists inline; 2: lists in chunks; 3: and who acted), None
        if unreadable."""
        version = self.content().get("version")
        return version if isinstance(version, int) and not isinstance(version, bool) else None


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


@dataclass(frozen=True, slots=True)
class DownloadGrant:
    """What a download link allows: one export of one check's evidence, as the caller who
    made the link (its organization, role and credential: an API key or a person's
    session)."""

    organization_id: str
    role: Role
    api_key_id: str | None
    check_id: str
    format: str
    session_id: str | None = None


# What holds a reference to an evidence record from outside the chain (``Anchor.kind``).
CHECK_RESULT = "check result"
REMEDIATION_ACTION = "remediation action"


@dataclass(frozen=True, slots=True)
class Anchor:
    """A reference into the chain from outside it: ``owner`` (a check id, an action id) of
    ``kind`` says its evidence is record ``record_id`` (None: not recorded yet)."""

    kind: str
    owner: str
    record_id: str | None
