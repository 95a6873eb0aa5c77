"""GraphQL types of evidence records and of the chain's verification (SPEC §6.2)."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry
from strawberry.scalars import JSON

from resolvers.enums import graphql_enum
from resolvers.mapping import mapped
from resolvers.relay import Connection, Edge, Node
from services.checks.models import CheckStatus
from services.evidence.models import EvidenceRecord
from services.evidence.verify import ChainStatus, LinkProblem
from services.paging import Slice


@strawberry.type(
    description="One sealed evidence record: what a check saw and concluded when its outcome "
    "changed. Hash-chained and HMAC-sealed; `verifyEvidenceChain` checks the whole chain."
)
class Evidence(Node):
    id: strawberry.ID = strawberry.field(description="Opaque record id.")
    sequence: int = strawberry.field(description="Position in the organization's chain (1, 2…).")
    check_id: strawberry.ID = strawberry.field(description="The check whose result it seals.")
    evaluated_at: datetime | None = strawberry.field(
        description="When the sealed result was evaluated (UTC)."
    )
    recorded_at: datetime | None = strawberry.field(description="When it was sealed (UTC).")
    status: CheckStatus | None = strawberry.field(description="The sealed result's status.")
    snapshot_id: strawberry.ID | None = strawberry.field(
        description="The snapshot the result was evaluated on; null without synced data."
    )
    data_as_of: datetime | None = strawberry.field(
        description="When that snapshot was taken (UTC)."
    )
    prev_hash: str = strawberry.field(
        description="SHA-256 (hex) of the previous record; 64 zeros for the first."
    )
    sha256: str = strawberry.field(description="SHA-256 (hex) of `canonicalJson`.")
    hmac: str = strawberry.field(description="HMAC-SHA256 (hex) of `canonicalJson`.")
    key_id: str = strawberry.field(description="Identifies the HMAC key (not the key).")
    record: JSON = strawberry.field(
        description="The sealed record (result + population). From format version 2 (its "
        "`version`) each long list (`population.items`, `result.failingItems`, "
        "`result.exceptedItems`, `result.exceptions`) is a reference `{count, root}` to "
        "content-addressed chunks; `GET /evidence/export?format=json` includes them."
    )
    canonical_json: str = strawberry.field(description="The exact text that was hashed.")

    @classmethod
    def from_domain(cls, r: EvidenceRecord) -> Evidence:
        """Map the domain object (fields come from the sealed body)."""
        body = r.content()
        result = body.get("result") if isinstance(body.get("result"), dict) else {}
        snapshot = body.get("snapshot") if isinstance(body.get("snapshot"), dict) else {}
        assert isinstance(result, dict) and isinstance(snapshot, dict)
        return mapped(
            cls,
            r,
            evaluated_at=_time(body.get("evaluatedAt")),
            recorded_at=_time(body.get("recordedAt")),
            status=_status(result.get("status")),
            data_as_of=_time(snapshot.get("takenAt")),
            prev_hash=str(body.get("prevHash", "")),
            record=JSON(body),
            canonical_json=r.body,
        )


def _time(value: object) -> datetime | None:
    """A sealed ISO 8601 time as a UTC datetime (None when absent or not a time)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _status(value: object) -> CheckStatus | None:
    try:
        return CheckStatus(value) if isinstance(value, str) else None
    except ValueError:
        return None


@strawberry.type(description="A record and its cursor.")
class EvidenceEdge(Edge[Evidence]):
    node: Evidence = strawberry.field(description="The record.")


@strawberry.type(description="A check's evidence, newest first.")
class EvidenceConnection(Connection[EvidenceEdge]):
    @classmethod
    def of(cls, page: Slice[EvidenceRecord], after: str | None = None) -> EvidenceConnection:
        """Map a service-layer slice."""
        return cls.of_nodes(page, Evidence.from_domain, after)


graphql_enum(
    LinkProblem,
    name="EvidenceChainProblem",
    description="Why a link of the evidence chain is broken.",
    values={
        LinkProblem.HASH_MISMATCH: "The record's text does not match its SHA-256.",
        LinkProblem.HMAC_MISMATCH: "The record's HMAC does not verify with its key.",
        LinkProblem.PREV_HASH_MISMATCH: "The record does not link to the previous one.",
        LinkProblem.SEQUENCE_GAP: "A sequence number is missing (a record was removed).",
        LinkProblem.SEQUENCE_REORDER: "Sequence numbers are out of order.",
        LinkProblem.FIELD_MISMATCH: "A stored field differs from the sealed text.",
        LinkProblem.MALFORMED: "The record cannot be parsed.",
        LinkProblem.HEAD_MISMATCH: (
            "The chain's newest records are not vouched for by its sealed head (records "
            "removed from the end, or the head is missing)."
        ),
        LinkProblem.CHUNK_MISSING: (
            "A chunk (or the manifest) of a list the record refers to is missing, e.g. part "
            "of its population was deleted."
        ),
        LinkProblem.CHUNK_MISMATCH: (
            "A chunk (or the manifest) of a list the record refers to does not hash to its "
            "address: its content was changed."
        ),
        LinkProblem.ANCHOR_MISSING: (
            "The record is evidence of something that no longer exists outside the chain "
            "(e.g. the remediation action it records was deleted)."
        ),
    },
)


@strawberry.type(description="The first place the evidence chain does not hold.")
class EvidenceChainBreak:
    sequence: int = strawberry.field(description="The sequence number where it breaks.")
    record_id: strawberry.ID | None = strawberry.field(
        description="The record found there; null when the record is missing."
    )
    problem: LinkProblem = strawberry.field(description="What is wrong.")
    message: str = strawberry.field(description="Details, for an auditor.")


@strawberry.type(description="The verdict of walking the organization's whole evidence chain.")
class EvidenceChainStatus:
    valid: bool = strawberry.field(description="True when every record verifies and links.")
    checked_count: int = strawberry.field(description="Records verified before any break.")
    head_sequence: int = strawberry.field(description="The highest sequence the chain reached.")
    first_broken_link: EvidenceChainBreak | None = strawberry.field(
        description="Where the chain first breaks; null when valid."
    )

    @classmethod
    def from_domain(cls, status: ChainStatus) -> EvidenceChainStatus:
        """Map the domain object."""
        broken = status.broken
        return mapped(
            cls,
            status,
            first_broken_link=mapped(EvidenceChainBreak, broken) if broken else None,
        )
