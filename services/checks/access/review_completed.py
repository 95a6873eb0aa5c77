"""``confluence-access-review-completed``: Confluence access is reviewed periodically.

Fails when no review of the critical system was completed within ``reviewFrequencyDays``
(item: the critical system) and when an open review is past its ``dueAt`` (item: the
review). It reads reviews, not the snapshot, so stale account data does not make it ERROR.
"""

from __future__ import annotations

from datetime import timedelta

from services.checks.access.data import ACCESS, REVIEWS_INPUT, AccessData
from services.checks.access.gate import not_monitored, when
from services.checks.base import Outcome, Population
from services.checks.controls import controls_for
from services.checks.models import CheckItem, CheckStatus

ID = "confluence-access-review-completed"


class AccessReviewCompleted:
    """Fails without a recent completed review, or with an overdue open one."""

    id = ID
    title = "Periodic review of access to critical systems should be completed"
    description = (
        "An access review of Confluence must be completed at least every review period "
        "(reviewFrequencyDays, default 365), and an open review must not be past its due date."
    )
    fix = (
        "Start an access review of Confluence (startAccessReview), decide every entry and "
        "complete it (completeAccessReview)."
    )
    controls = controls_for(ID)
    source = ACCESS
    reads = frozenset({REVIEWS_INPUT})

    def evaluate(self, data: AccessData) -> Outcome:
        """Pure evaluation over the system's latest completed and open reviews."""
        blocked = not_monitored(data, needs_snapshot=False)
        if blocked is not None:
            return blocked
        system = data.system
        assert system is not None  # not_monitored checked it
        items = []
        period = timedelta(days=system.review_frequency_days)
        done = data.completed_review
        if done is None or data.now - done.completed_at > period:
            last = f"; the last one was completed on {when(done.completed_at)}" if done else ""
            reason = (
                f"no access review completed in the last {system.review_frequency_days} days{last}"
            )
            items.append(CheckItem("critical_system", system.id, system.system.value, reason))
        review = data.open_review
        if review is not None and review.due_at is not None and data.now > review.due_at:
            name = f"access review started {when(review.started_at)}"
            reason = f"the open access review was due on {when(review.due_at)}"
            items.append(CheckItem("access_review", review.id, name, reason))
        status = CheckStatus.FAILING if items else CheckStatus.PASSING
        summary = f"{len(items)} failing item(s)" if items else "access was reviewed in time"
        return Outcome(
            status, summary, tuple(sorted(items, key=lambda i: i.resource_id)), _population(data)
        )


def _population(data: AccessData) -> Population:
    items: list[dict[str, str | None]] = []
    if data.completed_review is not None:
        done = data.completed_review
        items.append(
            {
                "reviewId": done.review_id,
                "status": "COMPLETED",
                "completedAt": done.completed_at.isoformat(),
            }
        )
    if data.open_review is not None:
        review = data.open_review
        due = review.due_at.isoformat() if review.due_at else None
        items.append({"reviewId": review.id, "status": "OPEN", "dueAt": due})
    return Population(kind="access_reviews", items=tuple(items))
