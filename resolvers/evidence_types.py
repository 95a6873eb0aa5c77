"""GraphQL types of evidence records and of the chain's verification (SPEC §6.2)."""

from __future__ import annotations

from enum import Enum

import strawberry
from strawberry.scalars import JSON

from resolvers.relay import PageInfo
from services.evidence_chain import EvidenceRecord
from services.evidence_verify import ChainStatus
from services.paging import Slice


@strawberry.type
class Evidence:
    """One sealed record: what a check saw and concluded when its outcome changed."""

    id: strawberry.ID
    sequence: int = strawberry.field(description="Position in the organization's chain.")
    check_id: strawberry.ID
    evaluated_at: str | None = strawberry.field(description="ISO 8601 UTC, as sealed.")
    recorded_at: str | None
    status: str | None
    snapshot_id: strawberry.ID | None
    data_as_of: str | None = strawberry.field(description="When the snapshot was taken.")
    prev_hash: str
    sha256: str
    hmac: str
    key_id: str = strawberry.field(description="Identifies the HMAC key (not the key).")
    record: JSON = strawberry.field(description="The sealed record (result + population).")
    canonical_json: str = strawberry.field(description="The exact text that was hashed.")

    @classmethod
    def from_domain(cls, r: EvidenceRecord) -> Evidence:
        """Map the domain object (fields come from the sealed body)."""
        body = r.content()
        result = body.get("result") if isinstance(body.get("result"), dict) else {}
        snapshot = body.get("snapshot") if isinstance(body.get("snapshot"), dict) else {}
        assert isinstance(result, dict) and isinstance(snapshot, dict)
        return cls(
            id=strawberry.ID(r.id),
            sequence=r.sequence,
            check_id=strawberry.ID(r.check_id),
            evaluated_at=body.get("evaluatedAt"),
            recorded_at=body.get("recordedAt"),
            status=result.get("status"),
            snapshot_id=strawberry.ID(r.snapshot_id) if r.snapshot_id else None,
            data_as_of=snapshot.get("takenAt"),
            prev_hash=str(body.get("prevHash", "")),
            sha256=r.sha256,
            hmac=r.hmac,
            key_id=r.key_id,
            record=JSON(body),
            canonical_json=r.body,
        )


@strawberry.type
class EvidenceEdge:
    """A record and its cursor."""

    cursor: str
    node: Evidence


@strawberry.type
class EvidenceConnection:
    """A check's evidence, newest first."""

    edges: list[EvidenceEdge]
    page_info: PageInfo
    total_count: int

    @classmethod
    def of(cls, page: Slice[EvidenceRecord]) -> EvidenceConnection:
        """Map a service-layer slice."""
        return cls(
            edges=[EvidenceEdge(cursor=c, node=Evidence.from_domain(r)) for c, r in page.items],
            page_info=PageInfo.of(page),
            total_count=page.total_count,
        )


@strawberry.enum
class EvidenceChainProblem(Enum):
    """Why a link of the chain is broken."""

    HASH_MISMATCH = "HASH_MISMATCH"
    HMAC_MISMATCH = "HMAC_MISMATCH"
    PREV_HASH_MISMATCH = "PREV_HASH_MISMATCH"
    SEQUENCE_GAP = "SEQUENCE_GAP"
    SEQUENCE_REORDER = "SEQUENCE_REORDER"
    FIELD_MISMATCH = "FIELD_MISMATCH"
    MALFORMED = "MALFORMED"
    HEAD_MISMATCH = "HEAD_MISMATCH"


@strawberry.type
class EvidenceChainBreak:
    """The first place the chain does not hold."""

    sequence: int
    record_id: strawberry.ID | None = strawberry.field(
        description="The record found there; null when the record is missing."
    )
    problem: EvidenceChainProblem
    message: str


@strawberry.type
class EvidenceChainStatus:
    """The verdict of walking the organization's whole chain."""

    valid: bool
    checked_count: int = strawberry.field(description="Records verified before any break.")
    head_sequence: int = strawberry.field(description="The highest sequence the chain reached.")
    first_broken_link: EvidenceChainBreak | None

    @classmethod
    def from_domain(cls, status: ChainStatus) -> EvidenceChainStatus:
        """Map the domain object."""
        broken = status.broken
        return cls(
            valid=status.valid,
            checked_count=status.checked_count,
            head_sequence=status.head_sequence,
            first_broken_link=EvidenceChainBreak(
                sequence=broken.sequence,
                record_id=strawberry.ID(broken.record_id) if broken.record_id else None,
                problem=EvidenceChainProblem(broken.problem.value),
                message=broken.message,
            )
            if broken
            else None,
        )
