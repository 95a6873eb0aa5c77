"""Access reviews: ``accessReviews``, ``accessReview``, start / decide / complete."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated, Any

import strawberry

from resolvers.context import Context, principal_of
from resolvers.errors import user_errors
from resolvers.relay import After, First, wire
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
from services.events import topic_for
from services.reviews import models
from services.reviews.service import REVIEWS_CHANNEL


@strawberry.type(description="Reads of access reviews.")
class ReviewQuery:
    @strawberry.field(description="The organization's access reviews, newest first (every role).")
    async def access_reviews(
        self,
        info: strawberry.Info[Context, Any],
        first: First = None,
        after: After = None,
    ) -> AccessReviewConnection:
        page = await info.context.services.reviews.list_reviews(principal_of(info), first, after)
        return AccessReviewConnection.of(page, after)

    @strawberry.field(description="One access review, or null (every role).")
    async def access_review(
        self,
        info: strawberry.Info[Context, Any],
        id: Annotated[strawberry.ID, strawberry.argument(description="The review id.")],
    ) -> AccessReview | None:
        review = await info.context.services.reviews.get(principal_of(info), str(id))
        return AccessReview.from_domain(review) if review else None


@strawberry.type(
    description="Starting (ADMIN), deciding and completing (REVIEWER or ADMIN) access reviews."
)
class ReviewMutation:
    @strawberry.mutation(
        description="Start a review of a critical system (ADMIN): freezes its current "
        "accounts as PENDING entries."
    )
    async def start_access_review(
        self,
        info: strawberry.Info[Context, Any],
        input: Annotated[
            StartAccessReviewInput, strawberry.argument(description="System and due date.")
        ],
    ) -> AccessReviewPayload:
        try:
            review = await info.context.services.reviews.start(
                principal_of(info), str(input.critical_system_id), input.due_at
            )
        except DomainError as exc:
            return AccessReviewPayload(user_errors=user_errors(exc, info))
        return AccessReviewPayload(access_review=AccessReview.from_domain(review))

    @strawberry.mutation(
        description="Decide KEEP, REVOKE or DOWNGRADE on one entry of an OPEN review "
        "(REVIEWER or ADMIN); deciding again replaces the decision."
    )
    async def decide_access(
        self,
        info: strawberry.Info[Context, Any],
        input: Annotated[DecideAccessInput, strawberry.argument(description="The decision.")],
    ) -> AccessReviewEntryPayload:
        try:
            entry = await info.context.services.reviews.decide(
                principal_of(info),
                str(input.entry_id),
                models.AccessDecision(wire(input.decision)),
                input.note,
            )
        except DomainError as exc:
            return AccessReviewEntryPayload(user_errors=user_errors(exc, info))
        return AccessReviewEntryPayload(entry=AccessReviewEntry.from_domain(entry))

    @strawberry.mutation(
        description="Complete an OPEN review (REVIEWER or ADMIN); pending entries need "
        "`markRemainingAs`."
    )
    async def complete_access_review(
        self,
        info: strawberry.Info[Context, Any],
        input: Annotated[
            CompleteAccessReviewInput, strawberry.argument(description="Review and remainder.")
        ],
    ) -> AccessReviewPayload:
        remaining = input.mark_remaining_as
        try:
            review = await info.context.services.reviews.complete(
                principal_of(info),
                str(input.review_id),
                models.AccessDecision(wire(remaining)) if remaining else None,
                input.note,
            )
        except DomainError as exc:
            return AccessReviewPayload(user_errors=user_errors(exc, info))
        return AccessReviewPayload(access_review=AccessReview.from_domain(review))


@strawberry.type(description="Live access review changes.")
class ReviewSubscription:
    @strawberry.subscription(
        description="A review whenever it starts, one of its entries is decided, or it is "
        "completed (every role); re-read `entries` for the decisions."
    )
    async def access_review_changed(
        self,
        info: strawberry.Info[Context, Any],
        review_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only this review; omit for every review."),
        ] = None,
    ) -> AsyncGenerator[AccessReview, None]:
        principal = principal_of(info)
        services = info.context.services
        topic = topic_for(principal.organization_id, REVIEWS_CHANNEL)
        async for event in services.bus.subscribe(topic):
            changed = str(event["review_id"])
            if review_id is not None and changed != str(review_id):
                continue
            review = await services.reviews.get(principal, changed)
            if review is not None:
                yield AccessReview.from_domain(review)
