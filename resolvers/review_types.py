"""GraphQL types of access reviews (SPEC §5, §7)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from resolvers.actors import actor
from resolvers.context import Info
from resolvers.enums import graphql_enum
from resolvers.errors import payload, result_field
from resolvers.mapping import mapped
from resolvers.relay import After, Connection, Edge, First, Node
from resolvers.types import Actor
from services.identity.models import Classification, NotStaffKind
from services.models import AccountStatus
from services.paging import Slice
from services.reviews import models
from services.reviews.models import AccessDecision, ReviewStatus

graphql_enum(
    ReviewStatus,
    name="AccessReviewStatus",
    description="An access review is open until completed.",
    values={
        ReviewStatus.OPEN: "Decisions are being made.",
        ReviewStatus.COMPLETED: "Every entry decided; frozen as evidence.",
    },
)


graphql_enum(
    AccessDecision,
    name="AccessDecision",
    description="The decision about one account of a review.",
    values={
        AccessDecision.PENDING: "Not decided yet.",
        AccessDecision.KEEP: "The access is appropriate.",
        AccessDecision.REVOKE: "Remove the access (note required).",
        AccessDecision.DOWNGRADE: (
            "Remove admin rights, keep the account (admins only; note required)."
        ),
    },
)


# The two input enums below are GraphQL only: the subsets of AccessDecision an input may
# name. ``.decision`` is the AccessDecision of the same name.
@strawberry.enum(description="A decision a reviewer can make (`decideAccess`).")
class ReviewDecision(Enum):
    KEEP = strawberry.enum_value(AccessDecision.KEEP, description="The access is appropriate.")
    REVOKE = strawberry.enum_value(
        AccessDecision.REVOKE, description="Remove the access (note required)."
    )
    DOWNGRADE = strawberry.enum_value(
        AccessDecision.DOWNGRADE,
        description="Remove admin rights, keep the account (admins only; note required).",
    )

    @property
    def decision(self) -> AccessDecision:
        """The domain decision."""
        return AccessDecision[self.name]


@strawberry.enum(description="What pending entries become when a review is completed.")
class RemainingDecision(Enum):
    KEEP = strawberry.enum_value(
        AccessDecision.KEEP, description="Keep every pending entry's access."
    )
    REVOKE = strawberry.enum_value(
        AccessDecision.REVOKE, description="Revoke every pending entry's access (note required)."
    )

    @property
    def decision(self) -> AccessDecision:
        """The domain decision."""
        return AccessDecision[self.name]


@strawberry.type(description="One account of a review as frozen at start, and its decision.")
class AccessReviewEntry:
    id: strawberry.ID = strawberry.field(description="Opaque entry id (`decideAccess`).")
    account_id: strawberry.ID = strawberry.field(description="The Atlassian account id.")
    display_name: str | None = strawberry.field(description="The account's name at start.")
    email: str | None = strawberry.field(description="The account's email at start, if known.")
    groups: list[str] = strawberry.field(description="Its groups at start.")
    is_admin: bool = strawberry.field(description="Whether it was an admin at start.")
    account_status: AccountStatus = strawberry.field(description="Its status at start.")
    classification: Classification = strawberry.field(
        description="Its identity classification at start."
    )
    person_id: strawberry.ID | None = strawberry.field(
        description="The linked person at start (STAFF)."
    )
    kind: NotStaffKind | None = strawberry.field(description="The kind at start (NOT_STAFF).")
    decision: AccessDecision = strawberry.field(description="The decision; PENDING until made.")
    note: str | None = strawberry.field(description="The reviewer's note.")
    decided_by: strawberry.ID | None = strawberry.field(
        description="Id of the API key that decided; see `decidedByActor` for its name."
    )
    decided_at: datetime | None = strawberry.field(description="When it was decided (UTC).")

    @strawberry.field(
        description="Who decided: the API key's name and role (every role); null while PENDING."
    )
    async def decided_by_actor(self, info: Info) -> Actor | None:
        return await actor(info, str(self.decided_by) if self.decided_by else None)

    @classmethod
    def from_domain(cls, e: models.ReviewEntry) -> AccessReviewEntry:
        """Map the domain object."""
        return mapped(cls, e)


@strawberry.type(description="An entry and its cursor.")
class AccessReviewEntryEdge(Edge[AccessReviewEntry]):
    node: AccessReviewEntry = strawberry.field(description="The entry.")


@strawberry.type(description="Entries of a review, by account id.")
class AccessReviewEntryConnection(Connection[AccessReviewEntryEdge]):
    @classmethod
    def of(
        cls, page: Slice[models.ReviewEntry], after: str | None = None
    ) -> AccessReviewEntryConnection:
        """Map a service-layer slice."""
        return cls.of_nodes(page, AccessReviewEntry.from_domain, after)


@strawberry.type(description="A review campaign over a critical system's accounts.")
class AccessReview(Node):
    id: strawberry.ID = strawberry.field(description="Opaque review id.")
    critical_system_id: strawberry.ID = strawberry.field(description="The system reviewed.")
    status: ReviewStatus = strawberry.field(description="OPEN or COMPLETED.")
    due_at: datetime | None = strawberry.field(description="When it should be done (UTC).")
    started_at: datetime = strawberry.field(description="When it started (UTC).")
    completed_at: datetime | None = strawberry.field(
        description="When it was completed (UTC); null while OPEN."
    )
    entry_count: int = strawberry.field(description="How many accounts were frozen at start.")
    domain: strawberry.Private[models.AccessReview]

    @classmethod
    def from_domain(cls, r: models.AccessReview) -> AccessReview:
        """Map the domain object."""
        return mapped(cls, r, domain=r)

    @strawberry.field(description="The entries, by account id; optionally one decision only.")
    async def entries(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        decision: Annotated[
            AccessDecision | None,
            strawberry.argument(description="Only entries with this decision (e.g. PENDING)."),
        ] = None,
    ) -> AccessReviewEntryConnection:
        page = await info.context.services.reviews.entries(self.domain, decision, first, after)
        return AccessReviewEntryConnection.of(page, after)

    @strawberry.field(description="How many entries are still PENDING.")
    async def pending_count(self, info: Info) -> int:
        return await info.context.services.reviews.pending_count(self.domain)


@strawberry.type(description="A review and its cursor.")
class AccessReviewEdge(Edge[AccessReview]):
    node: AccessReview = strawberry.field(description="The review.")


@strawberry.type(description="Reviews, newest first.")
class AccessReviewConnection(Connection[AccessReviewEdge]):
    @classmethod
    def of(
        cls, page: Slice[models.AccessReview], after: str | None = None
    ) -> AccessReviewConnection:
        """Map a service-layer slice."""
        return cls.of_nodes(page, AccessReview.from_domain, after)


@strawberry.input(
    description="Start a review of a critical system (its current accounts are frozen)."
)
class StartAccessReviewInput:
    critical_system_id: strawberry.ID = strawberry.field(description="The system to review.")
    due_at: datetime | None = strawberry.field(
        default=None, description="When it should be done; must be in the future."
    )


@strawberry.input(
    description="A decision on one entry; a note is required for REVOKE and DOWNGRADE."
)
class DecideAccessInput:
    entry_id: strawberry.ID = strawberry.field(description="The entry.")
    decision: ReviewDecision = strawberry.field(description="KEEP, REVOKE or DOWNGRADE.")
    note: str | None = strawberry.field(
        default=None, description="Why; required for REVOKE and DOWNGRADE (at most 2000 chars)."
    )


@strawberry.input(
    description="Complete a review; pending entries need `markRemainingAs` (KEEP or REVOKE)."
)
class CompleteAccessReviewInput:
    review_id: strawberry.ID = strawberry.field(description="The OPEN review.")
    mark_remaining_as: RemainingDecision | None = strawberry.field(
        default=None, description="What pending entries become; required if any is pending."
    )
    note: str | None = strawberry.field(
        default=None, description="A note for the entries decided by `markRemainingAs`."
    )


@payload("A review after a change.")
class AccessReviewPayload:
    access_review: AccessReview | None = result_field("The review after the change")


@payload("An entry after a decision.")
class AccessReviewEntryPayload:
    entry: AccessReviewEntry | None = result_field("The entry after the decision")
