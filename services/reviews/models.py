"""Critical systems, their access rules, and access review campaigns (SPEC §5)."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from services.identity.models import Classification, NotStaffKind
from services.models import AccountStatus


class SystemKind(enum.StrEnum):
    """Systems Vigil can monitor."""

    CONFLUENCE = "CONFLUENCE"


class AccessRule(enum.StrEnum):
    """Who may have access: any active staff member, or the listed job roles."""

    ALL_STAFF = "ALL_STAFF"
    ROLE_BASED = "ROLE_BASED"


@dataclass(frozen=True, slots=True)
class SystemSettings:
    """A critical system's review frequency and access rule, as given."""

    review_frequency_days: int = 365
    access_rule: AccessRule = AccessRule.ALL_STAFF
    allowed_roles: tuple[str, ...] = ()
    admin_roles: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CriticalSystem:
    """A system under access monitoring and its access rule."""

    id: str
    organization_id: str
    system: SystemKind
    integration_id: str | None
    review_frequency_days: int
    access_rule: AccessRule
    allowed_roles: tuple[str, ...]
    admin_roles: tuple[str, ...]
    added_at: datetime
    updated_at: datetime

    def allows_role(self, role: str | None) -> bool:
        """Whether a person with job ``role`` may have access (ALL_STAFF: anyone)."""
        if self.access_rule is AccessRule.ALL_STAFF:
            return True
        return role_key(role) in {role_key(r) for r in self.allowed_roles}

    def allows_admin(self, role: str | None) -> bool:
        """Whether ``role`` may hold admin (any role when no admin roles are set)."""
        if not self.admin_roles:
            return True
        return role_key(role) in {role_key(r) for r in self.admin_roles}


def role_key(role: str | None) -> str:
    """Job roles compare case- and surrounding-space-insensitively."""
    return (role or "").strip().casefold()


class ReviewStatus(enum.StrEnum):
    """An access review is open until completed."""

    OPEN = "OPEN"
    COMPLETED = "COMPLETED"


class AccessDecision(enum.StrEnum):
    """A reviewer's decision about one account."""

    PENDING = "PENDING"
    KEEP = "KEEP"
    REVOKE = "REVOKE"
    DOWNGRADE = "DOWNGRADE"


@dataclass(frozen=True, slots=True)
class AccessReview:
    """A review campaign over one critical system's accounts, frozen at start."""

    id: str
    organization_id: str
    critical_system_id: str
    status: ReviewStatus
    started_at: datetime
    started_by: str
    snapshot_id: str | None
    entry_count: int
    due_at: datetime | None = None
    completed_at: datetime | None = None
    completed_by: str | None = None


@dataclass(frozen=True, slots=True)
class ReviewEntry:
    """One account of a review as it was at start, and the decision about it."""

    id: str
    review_id: str
    organization_id: str
    account_id: str
    display_name: str | None
    email: str | None
    groups: tuple[str, ...]
    is_admin: bool
    account_status: AccountStatus
    classification: Classification
    person_id: str | None
    kind: NotStaffKind | None
    decision: AccessDecision = AccessDecision.PENDING
    note: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class NewReview:
    """A review to open over a critical system: who starts it, from which snapshot, its
    entries (the accounts frozen at start) and when it is due."""

    organization_id: str
    critical_system_id: str
    started_by: str
    snapshot_id: str | None
    entries: Sequence[ReviewEntry]
    due_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """A decision on review entries: what, the note that explains it, who and when."""

    decision: AccessDecision
    note: str | None
    decided_by: str
    decided_at: datetime


@dataclass(frozen=True, slots=True)
class Completion:
    """A review's completion: who and when, and the decision (with its note) the entries
    still pending get, if any."""

    completed_by: str
    completed_at: datetime
    mark_remaining: AccessDecision | None = None
    note: str | None = None

    def remaining(self) -> Decision | None:
        """The decision of the pending entries (None: they must all be decided already)."""
        if self.mark_remaining is None:
            return None
        return Decision(self.mark_remaining, self.note, self.completed_by, self.completed_at)


@dataclass(frozen=True, slots=True)
class CompletedDecisions:
    """The decisions of a critical system's latest completed review (what checks read)."""

    review_id: str
    completed_at: datetime
    decisions: dict[str, AccessDecision]
