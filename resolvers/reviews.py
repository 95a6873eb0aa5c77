"""Access reviews: ``accessReviews``, ``accessReview``, start / decide / complete."""

from __future__ import annotations

from typing import Any

import strawberry

from resolvers.context import Context, principal_of
from resolvers.errors import user_errors
from resolvers.review_types import (
    AccessReview,
    AccessReviewConnection,
    AccessReviewEntry,
    AccessReviewEntryPayload,
    AccessReviewPayload,
    CompleteAccessReviewInput,
    DecideAccessInput,
    StartAccessReviewInput,
)
from services.errors import DomainError
from services.reviews import models


@strawberry.type
class ReviewQuery:
    """Reads of access reviews."""

    @strawberry.field(description="The organization's access reviews, newest first.")
    async def access_reviews(
        self,
        info: strawberry.Info[Context, Any],
        first: int | None = None,
        after: str | None = None,
    ) -> AccessReviewConnection:
        page = await info.context.services.reviews.list_reviews(principal_of(info), first, after)
        return AccessReviewConnection.of(page)

    @strawberry.field(description="One access review.")
    async def access_review(
        self, info: strawberry.Info[Context, Any], id: strawberry.ID
    ) -> AccessReview | None:
        review = await info.context.services.reviews.get(principal_of(info), str(id))
        return AccessReview.from_domain(review) if review else None


@strawberry.type
class ReviewMutation:
    """Starting (ADMIN), deciding and completing (REVIEWER or ADMIN) access reviews."""

    @strawberry.mutation(description="Start a review: freezes the current account list.")
    async def start_access_review(
        self, info: strawberry.Info[Context, Any], input: StartAccessReviewInput
    ) -> AccessReviewPayload:
        try:
            review = await info.context.services.reviews.start(
                principal_of(info), str(input.critical_system_id), input.due_at
            )
        except DomainError as exc:
            return AccessReviewPayload(user_errors=user_errors(exc))
        return AccessReviewPayload(access_review=AccessReview.from_domain(review))

    @strawberry.mutation(description="Decide KEEP, REVOKE or DOWNGRADE on one entry.")
    async def decide_access(
        self, info: strawberry.Info[Context, Any], input: DecideAccessInput
    ) -> AccessReviewEntryPayload:
        try:
            entry = await info.context.services.reviews.decide(
                principal_of(info),
                str(input.entry_id),
                models.AccessDecision(input.decision.value),
                input.note,
            )
        except DomainError as exc:
            return AccessReviewEntryPayload(user_errors=user_errors(exc))
        return AccessReviewEntryPayload(entry=AccessReviewEntry.from_domain(entry))

    @strawberry.mutation(description="Complete a review (pending entries need markRemainingAs).")
    async def complete_access_review(
        self, info: strawberry.Info[Context, Any], input: CompleteAccessReviewInput
    ) -> AccessReviewPayload:
        remaining = input.mark_remaining_as
        try:
            review = await info.context.services.reviews.complete(
                principal_of(info),
                str(input.review_id),
                models.AccessDecision(remaining.value) if remaining else None,
                input.note,
            )
        except DomainError as exc:
            return AccessReviewPayload(user_errors=user_errors(exc))
        return AccessReviewPayload(access_review=AccessReview.from_domain(review))
