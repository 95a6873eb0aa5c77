"""Access reviews: start (freeze the accounts), decide, complete (SPEC §5).

The entries are the accounts of the current snapshot that may have access (status
``active`` or ``unknown``) with their groups, admin flag and identity at start. One review
per critical system is open at a time. Decisions record the reviewer's API key and time.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from dataclasses import KW_ONLY, dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Protocol

from services.api_keys import require_role
from services.callbacks import OnAction, OnReviewChange, ignore_action, ignore_review_change
from services.clock import Clock, utcnow_ms
from services.errors import Conflict, NotFound, ValidationFailed
from services.events import EventBus, subscribe_now, topic_for
from services.identity.directory import Directory
from services.identity.models import Identity, unidentified
from services.models import AccountStatus, Action, DirectoryStatus, Principal, Role
from services.paging import (
    Slice,
    decode_cursor,
    make_slice,
    page_size,
    time_slice,
)
from services.reviews.models import (
    AccessDecision,
    AccessReview,
    Completion,
    CriticalSystem,
    Decision,
    NewReview,
    ReviewEntry,
    ReviewStatus,
)
from services.sync.models import SnapshotAccount

MAX_NOTE = 2000
NO_ACCESS = frozenset({AccountStatus.INACTIVE, AccountStatus.CLOSED})


#: Bus channel of review changes (``{"review_id"}``), per organization.
REVIEWS_CHANNEL = "reviews"
#: The check whose evidence chain holds the decisions of reviews (``confluence-access-review-
#: completed``, services/checks/access/review_completed.py; named here: the checks import
#: this package).
REVIEW_CHECK = "confluence-access-review-completed"


class AccessReviewsRepo(Protocol):
    """The ``AccessReviewRepository`` methods ``AccessReviewService`` calls."""

    async def complete(self, *, review_id: str, completion: Completion) -> AccessReview | None: ...
    async def count_pending(self, *, review_id: str) -> int: ...
    async def create(self, review: NewReview) -> AccessReview | None: ...
    async def decide(self, *, entry_id: str, decision: Decision) -> ReviewEntry | None: ...
    async def get(self, *, organization_id: str, review_id: str) -> AccessReview | None: ...
    async def get_entry(self, *, organization_id: str, entry_id: str) -> ReviewEntry | None: ...
    async def list_entries(
        self, *, review_id: str, decision: AccessDecision | None, limit: int, after: str | None
    ) -> tuple[list[ReviewEntry], int]: ...
    async def list_reviews(
        self, *, organization_id: str, limit: int, before: tuple[datetime, str] | None
    ) -> tuple[list[AccessReview], int]: ...


class CriticalSystemsRepo(Protocol):
    """The ``CriticalSystemRepository`` methods ``AccessReviewService`` calls."""

    async def get(self, *, organization_id: str, system_id: str) -> CriticalSystem | None: ...


@dataclass(eq=False, repr=False)
class AccessReviewService:
    """Review campaigns over a critical system's accounts.

    ``on_action`` is told every start, decision and completion (who, what, when): the
    composition root seals them into the evidence chain."""

    directory: Directory
    _: KW_ONLY
    access_reviews: AccessReviewsRepo
    critical_systems: CriticalSystemsRepo
    on_review_changed: OnReviewChange = ignore_review_change
    on_action: OnAction = ignore_action
    clock: Clock = utcnow_ms

    async def start(
        self, principal: Principal, critical_system_id: str, due_at: datetime | None
    ) -> AccessReview:
        """Open a review of the system's current accounts (ADMIN)."""
        require_role(principal, Role.ADMIN)
        org = principal.organization_id
        system = await self.critical_systems.get(organization_id=org, system_id=critical_system_id)
        if system is None:
            raise NotFound(
                f"critical system {critical_system_id} not found",
                field=["input", "criticalSystemId"],
            )
        if due_at is not None and due_at.tzinfo is None:
            due_at = due_at.replace(tzinfo=UTC)  # a time without an offset is UTC (SPEC §7)
        if due_at is not None and due_at <= self.clock():
            raise ValidationFailed("dueAt must be in the future", field=["input", "dueAt"])
        current = await self.directory.current_accounts(org)
        if current.snapshot is None:
            raise Conflict(
                "there is no access-review data yet: wait for the first sync to finish",
                field=["input", "criticalSystemId"],
                code="NO_SNAPSHOT",
            )
        entries = await self._freeze(org, current.accounts)
        review = await self.access_reviews.create(
            NewReview(
                organization_id=org,
                critical_system_id=system.id,
                started_by=principal.actor_id,
                snapshot_id=current.snapshot.snapshot_id,
                entries=entries,
                due_at=due_at,
            )
        )
        if review is None:
            raise Conflict(
                "this critical system already has an open access review; complete it first",
                field=["input", "criticalSystemId"],
                code="REVIEW_OPEN",
            )
        details = {"reviewId": review.id, "criticalSystemId": system.id, "dueAt": due_at}
        await self._changed(
            principal, review.id, "access-review-started", review.started_at, details
        )
        return review

    async def decide(
        self, principal: Principal, entry_id: str, decision: AccessDecision, note: str | None
    ) -> ReviewEntry:
        """Record KEEP, REVOKE or DOWNGRADE on an entry of an open review (REVIEWER)."""
        require_role(principal, Role.REVIEWER)
        org = principal.organization_id
        entry = await self.access_reviews.get_entry(organization_id=org, entry_id=entry_id)
        if entry is None:
            raise NotFound(f"review entry {entry_id} not found", field=["input", "entryId"])
        if decision is AccessDecision.DOWNGRADE and not entry.is_admin:
            raise ValidationFailed(
                "DOWNGRADE removes admin rights; this account is not an admin",
                field=["input", "decision"],
            )
        note = _note(decision, note)
        await self._open_review(org, entry.review_id)
        decided = await self.access_reviews.decide(
            entry_id=entry.id, decision=Decision(decision, note, principal.actor_id, self.clock())
        )
        if decided is None:
            raise NotFound(f"review entry {entry_id} not found", field=["input", "entryId"])
        details = {
            "reviewId": decided.review_id,
            "entryId": decided.id,
            "accountId": decided.account_id,
            "accountName": decided.display_name,
            "decision": decision.value,
            "note": note,
        }
        at = decided.decided_at or self.clock()
        await self._changed(
            principal, decided.review_id, "access-decision", at, details, (decided.account_id,)
        )
        return decided

    async def complete(
        self,
        principal: Principal,
        review_id: str,
        mark_remaining_as: AccessDecision | None,
        note: str | None = None,
    ) -> AccessReview:
        """Complete a review; pending entries need ``mark_remaining_as`` (REVIEWER)."""
        require_role(principal, Role.REVIEWER)
        org = principal.organization_id
        review = await self._open_review(org, review_id, field="reviewId")
        reviews = self.access_reviews
        if mark_remaining_as is None:
            pending = await reviews.count_pending(review_id=review.id)
            if pending:
                raise Conflict(
                    f"{pending} entries are still PENDING: decide them, or complete with "
                    "markRemainingAs",
                    field=["input", "markRemainingAs"],
                    code="PENDING_ENTRIES",
                )
        else:
            note = self._remaining_note(mark_remaining_as, note)
        completion = Completion(principal.actor_id, self.clock(), mark_remaining_as, note)
        completed = await reviews.complete(review_id=review.id, completion=completion)
        if completed is None:
            raise Conflict("the review is already completed", code="REVIEW_COMPLETED")
        details = {
            "reviewId": completed.id,
            "markRemainingAs": mark_remaining_as.value if mark_remaining_as else None,
            "note": note,
        }
        at = completed.completed_at or self.clock()
        await self._changed(principal, completed.id, "access-review-completed", at, details)
        return completed

    async def _changed(
        self,
        principal: Principal,
        review_id: str,
        kind: str,
        at: datetime,
        details: Mapping[str, object],
        subjects: tuple[str, ...] = (),
    ) -> None:
        """Seal ``principal``'s action on a review as evidence, then report the review changed."""
        action = Action(
            organization_id=principal.organization_id,
            check_id=REVIEW_CHECK,
            kind=kind,
            actor=principal.describe(),
            at=at,
            details=details,
            subjects=subjects,
        )
        await self.on_action(action)
        await self.on_review_changed(principal.organization_id, review_id)

    async def get(self, principal: Principal, review_id: str) -> AccessReview | None:
        """One review of the caller's organization."""
        return await self.access_reviews.get(
            organization_id=principal.organization_id, review_id=review_id
        )

    async def list_reviews(
        self, principal: Principal, first: int | None, after: str | None
    ) -> Slice[AccessReview]:
        """The organization's reviews, newest first."""
        rows = partial(self.access_reviews.list_reviews, organization_id=principal.organization_id)
        return await time_slice(rows, first, after, key=lambda r: (r.started_at, r.id))

    async def entries(
        self,
        review: AccessReview,
        decision: AccessDecision | None,
        first: int | None,
        after: str | None,
    ) -> Slice[ReviewEntry]:
        """A review's entries by account id (``review`` was read in the caller's org)."""
        limit = page_size(first)
        rows, total = await self.access_reviews.list_entries(
            review_id=review.id, decision=decision, limit=limit + 1, after=decode_cursor(after)
        )
        return make_slice(rows, limit=limit, total=total, key=lambda e: e.account_id)

    async def pending_count(self, review: AccessReview) -> int:
        """How many entries of the review are undecided."""
        return await self.access_reviews.count_pending(review_id=review.id)

    async def _freeze(self, org: str, accounts: tuple[SnapshotAccount, ...]) -> list[ReviewEntry]:
        identities = await self.directory.identities(org)
        return [_entry(org, a, identities) for a in accounts if _reviewed(a)]

    async def _open_review(self, org: str, review_id: str, field: str = "entryId") -> AccessReview:
        review = await self.access_reviews.get(organization_id=org, review_id=review_id)
        if review is None:
            raise NotFound(f"access review {review_id} not found", field=["input", field])
        if review.status is not ReviewStatus.OPEN:
            raise Conflict(
                "the review is completed; decisions can no longer change",
                field=["input", field],
                code="REVIEW_COMPLETED",
            )
        return review

    def _remaining_note(self, decision: AccessDecision, note: str | None) -> str | None:
        if decision is AccessDecision.PENDING or decision is AccessDecision.DOWNGRADE:
            raise ValidationFailed(
                "markRemainingAs must be KEEP or REVOKE", field=["input", "markRemainingAs"]
            )
        return _note(decision, note) or "decided when the review was completed"


def _reviewed(account: SnapshotAccount) -> bool:
    """Whether a review lists the account: it holds an access role (through a group or
    directly) and is neither deactivated, closed, nor suspended in the site's directory (an
    UNKNOWN status is listed: a reviewer decides)."""
    return (
        account.account_status not in NO_ACCESS
        and account.directory_status is not DirectoryStatus.SUSPENDED
        and bool(account.access_via)
    )


def _entry(org: str, account: SnapshotAccount, identities: Mapping[str, Identity]) -> ReviewEntry:
    identity = identities.get(account.account_id) or unidentified(account.account_id)
    return ReviewEntry(
        id="",
        review_id="",
        organization_id=org,
        account_id=account.account_id,
        display_name=account.display_name,
        email=account.email,
        groups=account.groups,
        is_admin=account.is_admin,
        account_status=account.account_status,
        classification=identity.classification,
        person_id=identity.person_id,
        kind=identity.kind,
    )


def _note(decision: AccessDecision, note: str | None) -> str | None:
    if decision is AccessDecision.PENDING:
        raise ValidationFailed("decide KEEP, REVOKE or DOWNGRADE", field=["input", "decision"])
    text = (note or "").strip()
    if len(text) > MAX_NOTE:
        raise ValidationFailed(
            f"note must be at most {MAX_NOTE} characters", field=["input", "note"]
        )
    if not text and decision in (AccessDecision.REVOKE, AccessDecision.DOWNGRADE):
        raise ValidationFailed(f"a note is required for {decision.value}", field=["input", "note"])
    return text or None


# A function, not a method: the service holds no bus (the composition root publishes
# its changes on the channel).
async def watch_reviews(
    bus: EventBus,
    reviews: AccessReviewService,
    principal: Principal,
    review_id: str | None,
    *,
    initial: bool = False,
) -> AsyncGenerator[AccessReview, None]:
    """Every review (or only ``review_id``) as it is after each change from now on.
    ``initial``: first, once subscribed, ``review_id``'s review (or the newest review) as it
    is, when there is one."""
    events = await subscribe_now(bus, topic_for(principal.organization_id, REVIEWS_CHANNEL))
    try:
        if initial:
            if review_id is not None:
                current = await reviews.get(principal, review_id)
            else:
                newest = (await reviews.list_reviews(principal, 1, None)).items
                current = newest[0][1] if newest else None
            if current is not None:
                yield current
        async for event in events:
            changed = str(event["review_id"])
            if review_id is not None and changed != review_id:
                continue
            review = await reviews.get(principal, changed)
            if review is not None:
                yield review
    finally:
        await events.aclose()
