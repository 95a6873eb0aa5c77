"""The evidence chain's pure parts: canonical JSON, sealing (sha256 + HMAC), verification.

A record's *body* is canonical JSON (ADR 006): keys sorted, no insignificant whitespace,
UTF-8, datetimes as ISO-8601 UTC with milliseconds and ``Z``. ``sha256`` is the hex digest
of the body, which itself holds ``sequence`` and ``prevHash`` (the previous record's
``sha256``; 64 zeros for the first record of an organization). ``hmac`` is
HMAC-SHA256(key, sha256 hex as ASCII) under ``VIGIL_EVIDENCE_HMAC_KEY``, a key that is
never stored in the database: whoever can write the database cannot re-sign an edit.

Records are sealed in body format 3: format 2's chunked lists (ADR 011: the long lists are
references to chunks, ``services.evidence.chunks``, so a body stays a few kilobytes whatever
the population) plus ``actor``, who caused the record: a person (``kind: PERSON``, their user
id, display name, email and Atlassian account id when they signed in with Atlassian), an API
key (``API_KEY``, its id and name) or Vigil itself (``SYSTEM``: the check engine concluding,
the operator CLI). Format 1 (lists inline) and format 2 bodies were written before and keep
verifying.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import math
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from services.crypto import KeyConfigError, generate_key, parse_key
from services.evidence.models import EvidenceEntry, EvidenceRecord

GENESIS_HASH = "0" * 64
BODY_VERSION = 3  # 2 + who acted; 2: lists in chunks (ADR 011); 1: lists inline (ADR 006)
BODY_VERSIONS = (1, 2, 3)
CHUNKED_VERSIONS = (2, 3)  # bodies whose long lists are references to chunks
ACTOR_KINDS = ("PERSON", "API_KEY", "SYSTEM")
#: The actor of what Vigil does by itself (a check outcome the engine concluded).
SYSTEM_ACTOR: dict[str, Any] = {"kind": "SYSTEM", "id": "vigil", "name": "Vigil"}


def chunked(version: object) -> bool:
    """Whether a body of this format version holds its long lists as chunk references."""
    return version in CHUNKED_VERSIONS and not isinstance(version, bool)


KEY_NAME = "VIGIL_EVIDENCE_HMAC_KEY"


def canonical_json(value: Any) -> str:
    """The canonical text of ``value``: sorted keys, compact separators, UTC datetimes."""
    return json.dumps(
        _plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def iso_utc(when: datetime) -> str:
    """``2026-11-29T09:30:00.123Z``: naive datetimes are taken as UTC."""
    aware = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    text = aware.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("evidence cannot hold NaN or infinite numbers")
        return value
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_plain(v) for v in value]
        return sorted(items, key=canonical_json) if isinstance(value, set | frozenset) else items
    raise TypeError(f"evidence cannot hold a {type(value).__name__}")


def sha256_hex(text: str) -> str:
    """The hex SHA-256 of ``text`` encoded as UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EvidenceKey:
    """The HMAC key; its value never leaves this object (not in repr, logs or the API)."""

    __slots__ = ("_key", "key_id")

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the evidence key must be at least 32 bytes")
        self._key = key
        self.key_id = self._mac(b"vigil-evidence-key-id")[:16]

    def _mac(self, message: bytes) -> str:
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def sign(self, sha256: str) -> str:
        """HMAC-SHA256 of a record hash (hex in, hex out)."""
        return self._mac(sha256.encode("ascii"))

    def verify(self, sha256: str, signature: str) -> bool:
        """Whether ``signature`` is this key's HMAC of ``sha256`` (constant time)."""
        try:
            return hmac.compare_digest(self.sign(sha256), signature)
        except (UnicodeEncodeError, TypeError):
            return False

    def sign_head(self, organization_id: str, sequence: int, sha256: str) -> str:
        """HMAC of a chain head (or checkpoint): organization, sequence and record hash."""
        message = f"vigil-evidence-head\x00{organization_id}\x00{sequence}\x00{sha256}"
        return self._mac(message.encode("utf-8"))

    def verify_head(self, organization_id: str, sequence: int, sha256: str, signature: str) -> bool:
        """Whether ``signature`` is this key's HMAC of that head (constant time)."""
        try:
            expected = self.sign_head(organization_id, sequence, sha256)
            return hmac.compare_digest(expected, signature)
        except (UnicodeEncodeError, TypeError):
            return False

    def __repr__(self) -> str:
        return f"EvidenceKey(key_id={self.key_id!r})"


def evidence_key_from_settings(
    value: str | None, *, development: bool
) -> tuple[EvidenceKey, str | None]:
    """The key from ``VIGIL_EVIDENCE_HMAC_KEY``; in development an ephemeral one + a warning."""
    if value and value.strip():
        return EvidenceKey(parse_key(value, name=KEY_NAME)), None
    if not development:
        raise KeyConfigError(
            f"{KEY_NAME} is required outside development: set it to base64 of 32 random bytes "
            "(e.g. python -c 'from services.crypto import generate_key; print(generate_key())')"
        )
    warning = (
        f"{KEY_NAME} is not set: signing evidence with an ephemeral key for this process. "
        "Evidence recorded now fails HMAC verification after a restart; set "
        f"{KEY_NAME} to keep it verifiable."
    )
    return EvidenceKey(parse_key(generate_key(), name=KEY_NAME)), warning


def seal(
    entry: EvidenceEntry,
    *,
    record_id: str,
    sequence: int,
    prev_hash: str,
    recorded_at: datetime,
    key: EvidenceKey,
) -> EvidenceRecord:
    """Build the canonical body of ``entry`` at ``sequence`` after ``prev_hash``, and sign it."""
    snapshot = None
    if entry.snapshot_id is not None:
        snapshot = {
            "id": entry.snapshot_id,
            "integrationId": entry.integration_id,
            "takenAt": entry.snapshot_at,
        }
    body = canonical_json(
        {
            "version": BODY_VERSION,
            "id": record_id,
            "organizationId": entry.organization_id,
            "sequence": sequence,
            "prevHash": prev_hash,
            "checkId": entry.check_id,
            "evaluatedAt": entry.evaluated_at,
            "recordedAt": recorded_at,
            "snapshot": snapshot,
            "result": entry.result,
            "population": entry.population,
            "actor": dict(entry.actor) if entry.actor is not None else SYSTEM_ACTOR,
        }
    )
    digest = sha256_hex(body)
    return EvidenceRecord(
        id=record_id,
        organization_id=entry.organization_id,
        sequence=sequence,
        check_id=entry.check_id,
        body=body,
        sha256=digest,
        hmac=key.sign(digest),
        key_id=key.key_id,
        snapshot_id=entry.snapshot_id,
        # Stored fields are what the body seals: the integration only as the snapshot's.
        integration_id=entry.integration_id if snapshot is not None else None,
    )
