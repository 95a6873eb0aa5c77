"""GraphQL types of access reviews (SPEC §5, §7)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry

from resolvers.context import Context
from resolvers.errors import UserError
from resolvers.relay import PageInfo
from resolvers.snapshot_types import IdentityClassification, NotStaffKind
from services.paging import Slice
from services.reviews import models


@strawberry.enum
class AccessReviewStatus(Enum):
    """An access review is open until completed."""

    OPEN = "OPEN"
    COMPLETED = "COMPLETED"


@strawberry.enum
class AccessDecision(Enum):
    """A reviewer's decision about one account."""

    PENDING = "PENDING"
    KEEP = "KEEP"
    REVOKE = "REVOKE"
    DOWNGRADE = "DOWNGRADE"


@strawberry.type
class AccessReviewEntry:
    """One account of a review as frozen at start, and the decision about it."""

    id: strawberry.ID
    account_id: strawberry.ID
    display_name: str | None
    email: str | None
    groups: list[str]
    is_admin: bool
    account_status: str
    classification: IdentityClassification
    person_id: strawberry.ID | None
    kind: NotStaffKind | None
    decision: AccessDecision
    note: str | None
    decided_by: strawberry.ID | None
    decided_at: datetime | None

    @classmethod
    def from_domain(cls, e: models.ReviewEntry) -> AccessReviewEntry:
        """Map the domain object."""
        return cls(
            id=strawberry.ID(e.id),
            account_id=strawberry.ID(e.account_id),
            display_name=e.display_name,
            email=e.email,
            groups=list(e.groups),
            is_admin=e.is_admin,
            account_status=e.account_status,
            classification=IdentityClassification(e.classification.value),
            person_id=strawberry.ID(e.person_id) if e.person_id else None,
            kind=NotStaffKind(e.kind.value) if e.kind else None,
            decision=AccessDecision(e.decision.value),
            note=e.note,
            decided_by=strawberry.ID(e.decided_by) if e.decided_by else None,
            decided_at=e.decided_at,
        )


@strawberry.type
class AccessReviewEntryEdge:
    """An entry and its cursor."""

    cursor: str
    node: AccessReviewEntry


@strawberry.type
class AccessReviewEntryConnection:
    """Entries of a review, by account id."""

    edges: list[AccessReviewEntryEdge]
    page_info: PageInfo
    total_count: int

    @classmethod
    def of(cls, page: Slice[models.ReviewEntry]) -> AccessReviewEntryConnection:
        """Map a service-layer slice."""
        edges = [
            AccessReviewEntryEdge(cursor=c, node=AccessReviewEntry.from_domain(e))
            for c, e in page.items
        ]
        return cls(edges=edges, page_info=PageInfo.of(page), total_count=page.total_count)


@strawberry.type
class AccessReview:
    """A review campaign over a critical system's accounts."""

    id: strawberry.ID
    critical_system_id: strawberry.ID
    status: AccessReviewStatus
    due_at: datetime | None
    started_at: datetime
    completed_at: datetime | None
    entry_count: int
    domain: strawberry.Private[models.AccessReview]

    @classmethod
    def from_domain(cls, r: models.AccessReview) -> AccessReview:
        """Map the domain object."""
        return cls(
            id=strawberry.ID(r.id),
            critical_system_id=strawberry.ID(r.critical_system_id),
            status=AccessReviewStatus(r.status.value),
            due_at=r.due_at,
            started_at=r.started_at,
            completed_at=r.completed_at,
            entry_count=r.entry_count,
            domain=r,
        )

    @strawberry.field(description="The entries, by account id; optionally one decision only.")
    async def entries(
        self,
        info: strawberry.Info[Context, Any],
        first: int | None = None,
        after: str | None = None,
        decision: AccessDecision | None = None,
    ) -> AccessReviewEntryConnection:
        wanted = models.AccessDecision(decision.value) if decision else None
        page = await info.context.services.reviews.entries(self.domain, wanted, first, after)
        return AccessReviewEntryConnection.of(page)

    @strawberry.field(description="How many entries are still PENDING.")
    async def pending_count(self, info: strawberry.Info[Context, Any]) -> int:
        return await info.context.services.reviews.pending_count(self.domain)


@strawberry.type
class AccessReviewEdge:
    """A review and its cursor."""

    cursor: str
    node: AccessReview


@strawberry.type
class AccessReviewConnection:
    """Reviews, newest first."""

    edges: list[AccessReviewEdge]
    page_info: PageInfo
    total_count: int

    @classmethod
    def of(cls, page: Slice[models.AccessReview]) -> AccessReviewConnection:
        """Map a service-layer slice."""
        edges = [
            AccessReviewEdge(cursor=c, node=AccessReview.from_domain(r)) for c, r in page.items
        ]
        return cls(edges=edges, page_info=PageInfo.of(page), total_count=page.total_count)


@strawberry.input
class StartAccessReviewInput:
    """Start a review of a critical system (its current accounts are frozen)."""

    critical_system_id: strawberry.ID
    due_at: datetime | None = None


@strawberry.input
class DecideAccessInput:
    """A decision on one entry; a note is required for REVOKE and DOWNGRADE."""

    entry_id: strawberry.ID
    decision: AccessDecision
    note: str | None = None


@strawberry.input
class CompleteAccessReviewInput:
    """Complete a review; pending entries need ``markRemainingAs`` (KEEP or REVOKE)."""

    review_id: strawberry.ID
    mark_remaining_as: AccessDecision | None = None
    note: str | None = None


@strawberry.type
class AccessReviewPayload:
    """A review after a change."""

    access_review: AccessReview | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class AccessReviewEntryPayload:
    """An entry after a decision."""

    entry: AccessReviewEntry | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
