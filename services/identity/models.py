"""Account identities: the persistent classification of a Confluence account (SPEC §4)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class Classification(enum.StrEnum):
    """Who an account belongs to."""

    STAFF = "STAFF"
    NOT_STAFF = "NOT_STAFF"
    UNIDENTIFIED = "UNIDENTIFIED"


class NotStaffKind(enum.StrEnum):
    """What kind of non-staff account it is."""

    SERVICE = "SERVICE"
    SHARED = "SHARED"
    SYSTEM = "SYSTEM"
    EXTERNAL = "EXTERNAL"


class IdentityMethod(enum.StrEnum):
    """How an identity was decided; MANUAL decisions are never overwritten automatically."""

    AUTO_EMAIL = "AUTO_EMAIL"
    AUTO_APP = "AUTO_APP"
    MANUAL = "MANUAL"


@dataclass(frozen=True, slots=True)
class Identity:
    """An account's classification; UNIDENTIFIED identities have no method."""

    account_id: str
    classification: Classification = Classification.UNIDENTIFIED
    person_id: str | None = None
    kind: NotStaffKind | None = None
    reason: str | None = None
    method: IdentityMethod | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None

    @property
    def manual(self) -> bool:
        """Whether a person decided it (automatic resolution leaves it alone)."""
        return self.method is IdentityMethod.MANUAL

    def same_decision(self, other: Identity) -> bool:
        """Whether two identities classify the account the same way."""
        return (
            self.classification is other.classification
            and self.person_id == other.person_id
            and self.kind is other.kind
            and self.reason == other.reason
            and self.method is other.method
        )


def unidentified(account_id: str) -> Identity:
    """The identity of an account nobody has classified."""
    return Identity(account_id=account_id)


@dataclass(frozen=True, slots=True)
class ResolutionMark:
    """How far automatic resolution is known complete: every account of ``snapshot_id``
    resolved against every person written at or below ``people_seq`` (ADR 005)."""

    snapshot_id: str
    people_seq: int
