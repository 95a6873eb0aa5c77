"""Access reviews: ``accessReviews``, ``accessReview``, start / decide / complete."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Annotated

import strawberry

from resolvers.context import Info, principal_of
from resolvers.errors import mutation
from resolvers.relay import INITIAL, After, First
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
from services.reviews.service import watch_reviews


@strawberry.type(description="Reads of access reviews.")
class ReviewQuery:
    @strawberry.field(description="The organization's access reviews, newest first (every role).")
    async def access_reviews(
        self,
        info: Info,
        first: First = None,
        after: After = None,
    ) -> AccessReviewConnection:
        page = await info.context.services.reviews.list_reviews(principal_of(info), first, after)
        return AccessReviewConnection.of(page, after)

    @strawberry.field(description="One access review, or null (every role).")
    async def access_review(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The review id.")],
    ) -> AccessReview | None:
        review = await info.context.services.reviews.get(principal_of(info), str(id))
        return AccessReview.from_domain(review) if review else None


@strawberry.type(
    description="Starting (ADMIN), deciding and completing (REVIEWER or ADMIN) access reviews."
)
class ReviewMutation:
    @mutation(
        "Start a review of a critical system (ADMIN): freezes its current "
        "accounts as PENDING entries."
    )
    async def start_access_review(
        self,
        info: Info,
        input: Annotated[
            StartAccessReviewInput, strawberry.argument(description="System and due date.")
        ],
    ) -> AccessReviewPayload:
        review = await info.context.services.reviews.start(
            principal_of(info), str(input.critical_system_id), input.due_at
        )
        return AccessReviewPayload(access_review=AccessReview.from_domain(review))

    @mutation(
        "Decide KEEP, REVOKE or DOWNGRADE on one entry of an OPEN review "
        "(REVIEWER or ADMIN); deciding again replaces the decision."
    )
    async def decide_access(
        self,
        info: Info,
        input: Annotated[DecideAccessInput, strawberry.argument(description="The decision.")],
    ) -> AccessReviewEntryPayload:
        entry = await info.context.services.reviews.decide(
            principal_of(info),
            str(input.entry_id),
            input.decision.decision,
            input.note,
        )
        return AccessReviewEntryPayload(entry=AccessReviewEntry.from_domain(entry))

    @mutation(
        "Complete an OPEN review (REVIEWER or ADMIN); pending entries need `markRemainingAs`."
    )
    async def complete_access_review(
        self,
        info: Info,
        input: Annotated[
            CompleteAccessReviewInput, strawberry.argument(description="Review and remainder.")
        ],
    ) -> AccessReviewPayload:
        remaining = input.mark_remaining_as.decision if input.mark_remaining_as else None
        review = await info.context.services.reviews.complete(
            principal_of(info),
            str(input.review_id),
            remaining,
            input.note,
        )
        return AccessReviewPayload(access_review=AccessReview.from_domain(review))


@strawberry.type(description="Live access review changes.")
class ReviewSubscription:
    @strawberry.subscription(
        description="A review whenever it starts, one of its entries is decided, or it is "
        "completed (every role); re-read `entries` for the decisions."
    )
    async def access_review_changed(
        self,
        info: Info,
        review_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only this review; omit for every review."),
        ] = None,
        initial: Annotated[
            bool,
            strawberry.argument(
                description=INITIAL.format(what="`reviewId`'s review (or the newest review)")
            ),
        ] = False,
    ) -> AsyncGenerator[AccessReview, None]:
        services = info.context.services
        reviews = watch_reviews(
            services.bus,
            services.reviews,
            principal_of(info),
            str(review_id) if review_id is not None else None,
            initial=initial,
        )
        async with aclosing(reviews):
            async for review in reviews:
                yield AccessReview.from_domain(review)
