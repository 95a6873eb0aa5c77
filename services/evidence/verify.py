"""Verifying an organization's evidence chain: the first broken link, and why.

Records are fed in stored-sequence order. Each must sit at the next sequence, hash to its
stored ``sha256``, carry this deployment's HMAC of that hash, be sealed at the position it
is stored at, and name the previous record's hash as ``prevHash``. The chain head (the
highest sequence ever appended) exposes records deleted from the end.

A format-2 body (ADR 011) must also hold a reference at each list place; that the lists
themselves are intact is checked by the caller with ``chunks.ListReader``
(``EvidenceService.verify``), between ``inspect`` and ``accept``, and a missing or changed
chunk is reported at the record (``reject``).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from services.evidence.chain import (
    ACTOR_KINDS,
    BODY_VERSIONS,
    GENESIS_HASH,
    EvidenceKey,
    chunked,
    sha256_hex,
)
from services.evidence.chunks import refs_of
from services.evidence.models import ChainHead, EvidenceRecord


class LinkProblem(enum.StrEnum):
    """Why a link of the chain is broken."""

    HASH_MISMATCH = "HASH_MISMATCH"
    HMAC_MISMATCH = "HMAC_MISMATCH"
    PREV_HASH_MISMATCH = "PREV_HASH_MISMATCH"
    SEQUENCE_GAP = "SEQUENCE_GAP"
    SEQUENCE_REORDER = "SEQUENCE_REORDER"
    FIELD_MISMATCH = "FIELD_MISMATCH"
    MALFORMED = "MALFORMED"
    HEAD_MISMATCH = "HEAD_MISMATCH"
    CHUNK_MISSING = "CHUNK_MISSING"
    CHUNK_MISMATCH = "CHUNK_MISMATCH"
    ANCHOR_MISSING = "ANCHOR_MISSING"


@dataclass(frozen=True, slots=True)
class BrokenLink:
    """The first place the chain does not hold: at ``sequence`` (record ``record_id``)."""

    sequence: int
    record_id: str | None
    problem: LinkProblem
    message: str


@dataclass(frozen=True, slots=True)
class ChainStatus:
    """The outcome of verifying an organization's chain."""

    valid: bool
    checked_count: int
    head_sequence: int
    broken: BrokenLink | None = None


@dataclass
class ChainVerifier:
    """Checks records fed in stored-sequence order; stops at the first broken link."""

    key: EvidenceKey
    organization_id: str
    head: ChainHead | None = None
    # Signed checkpoints kept outside the database (``vigil evidence checkpoint``, the
    # worker's checkpoint file): the chain must still reach each and agree with it.
    checkpoints: tuple[ChainHead, ...] = ()
    checked: int = 0
    broken: BrokenLink | None = None
    _prev: str = GENESIS_HASH
    _expected: int = 1
    _hash_at_head: str | None = field(default=None, repr=False)
    _hash_at_checkpoint: dict[int, str] = field(default_factory=dict, repr=False)

    def feed(self, record: EvidenceRecord) -> bool:
        """Check one record; False once the chain is broken (stop feeding)."""
        if self.broken is not None:
            return False
        broken = self.inspect(record)
        if broken is not None:
            self.reject(broken)
            return False
        self.accept(record)
        return True

    def inspect(self, record: EvidenceRecord) -> BrokenLink | None:
        """What is wrong with the next record, if anything (nothing is changed)."""
        return self._check(record)

    def reject(self, broken: BrokenLink) -> None:
        """The chain breaks here (e.g. at a record whose chunks are missing)."""
        self.broken = broken

    def accept(self, record: EvidenceRecord) -> None:
        """The record holds: it becomes the link the next one must follow."""
        if self.head is not None and record.sequence == self.head.sequence:
            self._hash_at_head = record.sha256
        if any(point.sequence == record.sequence for point in self.checkpoints):
            self._hash_at_checkpoint[record.sequence] = record.sha256
        self._prev, self._expected = record.sha256, record.sequence + 1
        self.checked += 1

    def finish(self) -> ChainStatus:
        """The verdict, including records missing after the last one seen."""
        last = self._expected - 1
        for point in sorted(self.checkpoints, key=lambda p: p.sequence):
            if self.broken is None:
                self.broken = self._check_checkpoint(point, last)
        if self.broken is None and self.head is not None:
            self.broken = self._check_head(last)
        elif self.broken is None and last > 0:
            message = "the chain head is missing: the newest records cannot be vouched for"
            self.broken = _broken(last, None, LinkProblem.HEAD_MISMATCH, message)
        return ChainStatus(
            valid=self.broken is None,
            checked_count=self.checked,
            head_sequence=max(last, self.head.sequence if self.head else 0),
            broken=self.broken,
        )

    def _check(self, rec: EvidenceRecord) -> BrokenLink | None:
        seq, rid = self._expected, rec.id
        if rec.sequence < 1:
            return _broken(seq, rid, LinkProblem.MALFORMED, "the stored sequence is not valid")
        if rec.sequence > seq:
            missing = f"#{seq}" if rec.sequence == seq + 1 else f"#{seq}-#{rec.sequence - 1}"
            return _broken(seq, None, LinkProblem.SEQUENCE_GAP, f"record {missing} is missing")
        if rec.sequence < seq:
            return _broken(seq, rid, LinkProblem.SEQUENCE_REORDER, "sequence repeats")
        body = rec.content()
        if not body:
            return _broken(seq, rid, LinkProblem.MALFORMED, "the body is not a JSON object")
        if sha256_hex(rec.body) != rec.sha256:
            return _broken(seq, rid, LinkProblem.HASH_MISMATCH, "the body was changed")
        if not self.key.verify(rec.sha256, rec.hmac):
            other = "" if rec.key_id == self.key.key_id else f" (key id {rec.key_id!r})"
            message = f"the hash is not signed by this deployment's evidence key{other}"
            return _broken(seq, rid, LinkProblem.HMAC_MISMATCH, message)
        if body.get("sequence") != rec.sequence or body.get("id") != rec.id:
            message = f"record sealed as #{body.get('sequence')} is stored at #{rec.sequence}"
            return _broken(seq, rid, LinkProblem.SEQUENCE_REORDER, message)
        if body.get("prevHash") != self._prev:
            message = "prevHash does not match the hash of the record before it"
            return _broken(seq, rid, LinkProblem.PREV_HASH_MISMATCH, message)
        version = body.get("version")
        if version not in BODY_VERSIONS or isinstance(version, bool):
            message = f"the body's format version {version!r} is not one this deployment knows"
            return _broken(seq, rid, LinkProblem.MALFORMED, message)
        if version == 3:
            actor = body.get("actor")
            if not isinstance(actor, dict) or actor.get("kind") not in ACTOR_KINDS:
                message = "the body does not say who acted (actor)"
                return _broken(seq, rid, LinkProblem.MALFORMED, message)
        if chunked(version):
            places = refs_of(body)
            bad = [place for place, ref in places if ref is None]
            if bad or not places:
                where = ", ".join(bad) or "any list place"
                message = f"the body holds no list reference at {where}"
                return _broken(seq, rid, LinkProblem.MALFORMED, message)
        return self._check_fields(rec, body)

    def _check_fields(self, rec: EvidenceRecord, body: Mapping[str, Any]) -> BrokenLink | None:
        snapshot = body.get("snapshot") or {}
        pairs = (
            ("organizationId", rec.organization_id, body.get("organizationId")),
            ("checkId", rec.check_id, body.get("checkId")),
            ("snapshotId", rec.snapshot_id, snapshot.get("id")),
            ("integrationId", rec.integration_id, snapshot.get("integrationId")),
            # The HMAC verified with this key, so the record's key id must be this key's.
            ("keyId", rec.key_id, self.key.key_id),
        )
        for name, stored, sealed in pairs:
            if stored != sealed or (name == "organizationId" and stored != self.organization_id):
                message = f"stored {name} {stored!r} differs from the sealed {sealed!r}"
                return _broken(rec.sequence, rec.id, LinkProblem.FIELD_MISMATCH, message)
        return None

    def _check_head(self, last: int) -> BrokenLink | None:
        assert self.head is not None
        head = self.head
        if not self.key.verify_head(self.organization_id, head.sequence, head.sha256, head.hmac):
            message = "the chain head is not sealed by this deployment's evidence key"
            return _broken(head.sequence, None, LinkProblem.HEAD_MISMATCH, message)
        if self.head.sequence > last:
            missing = f"#{last + 1}" + ("" if self.head.sequence == last + 1 else "-")
            tail = "" if self.head.sequence == last + 1 else f"#{self.head.sequence}"
            message = f"record {missing}{tail} is missing (the chain reached #{self.head.sequence})"
            return _broken(last + 1, None, LinkProblem.SEQUENCE_GAP, message)
        if self._hash_at_head not in (None, self.head.sha256):
            message = f"record #{self.head.sequence} differs from the chain head"
            return _broken(self.head.sequence, None, LinkProblem.HASH_MISMATCH, message)
        return None

    def _check_checkpoint(self, point: ChainHead, last: int) -> BrokenLink | None:
        if not self.key.verify_head(self.organization_id, point.sequence, point.sha256, point.hmac):
            message = "the checkpoint is not signed by this deployment's evidence key"
            return _broken(point.sequence, None, LinkProblem.HEAD_MISMATCH, message)
        if point.sequence > last:
            message = f"the chain ends at #{last} but a checkpoint vouches for #{point.sequence}"
            return _broken(last + 1, None, LinkProblem.SEQUENCE_GAP, message)
        if self._hash_at_checkpoint.get(point.sequence) != point.sha256:
            message = f"record #{point.sequence} differs from the checkpoint"
            return _broken(point.sequence, None, LinkProblem.HASH_MISMATCH, message)
        return None


def chunk_problem(record: EvidenceRecord, place: str, why: str, *, missing: bool) -> BrokenLink:
    """A list the record refers to cannot be read back as sealed."""
    problem = LinkProblem.CHUNK_MISSING if missing else LinkProblem.CHUNK_MISMATCH
    return _broken(record.sequence, record.id, problem, f"{place}: {why}")


def dangling_reference(kind: str, owner: str, record_id: str, last: int) -> BrokenLink:
    """Something outside the chain (a check's current result, a remediation action) refers
    to evidence the verified chain does not hold: the newest records were removed (or the
    reference was edited), reported at the first sequence after the surviving chain."""
    message = (
        f"the {kind} {owner} refers to evidence {record_id}, which is not in the chain (it "
        f"ends at #{last}): the newest records were removed"
    )
    return _broken(last + 1, None, LinkProblem.SEQUENCE_GAP, message)


def orphaned_record(sequence: int, record_id: str, kind: str, owner: str) -> BrokenLink:
    """A record states what became of something (a remediation action) that no longer
    exists outside the chain: what referred to it was removed."""
    message = f"the record is evidence of the {kind} {owner}, which no longer exists"
    return _broken(sequence, record_id, LinkProblem.ANCHOR_MISSING, message)


def _broken(sequence: int, record_id: str | None, problem: LinkProblem, why: str) -> BrokenLink:
    return BrokenLink(sequence=sequence, record_id=record_id, problem=problem, message=why)
