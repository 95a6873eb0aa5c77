"""GraphQL types of checks and their results (SPEC §6, §7)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry

from resolvers.context import Info, principal_of
from resolvers.enums import graphql_enum
from resolvers.exception_types import CheckException
from resolvers.mapping import mapped
from resolvers.relay import After, Connection, Edge, First
from services.check_exceptions.models import CheckException as DomainException
from services.checks import base, models
from services.checks.models import CheckStatus
from services.checks.service import CheckView, page_of_items
from services.errors import NotFound
from services.models import Framework
from services.paging import Slice

graphql_enum(
    CheckStatus,
    name="CheckStatus",
    description="The outcome of a check.",
    values={
        CheckStatus.PASSING: "No failing item (excepted items do not count).",
        CheckStatus.FAILING: "At least one failing item.",
        CheckStatus.NOT_MONITORED: "Cannot be evaluated yet (e.g. no integration, no critical "
        "system, no synced data); `reason` says what is missing.",
        CheckStatus.ERROR: "Evaluation failed (e.g. the data is too old), or its outcome "
        "could not be recorded (e.g. it was too large to store); `reason` says why. A result "
        "computed over the last good data may still list failing items; one that could not "
        "be recorded lists none.",
    },
)


# The domain has no resource-type enum (check items carry a plain string): GraphQL only.
@strawberry.enum(description="What kind of resource a check item is.")
class CheckResourceType(Enum):
    ACCOUNT = strawberry.enum_value(
        "account", description="A Confluence account; `resourceId` is its account id."
    )
    CONFLUENCE_PAGE = strawberry.enum_value(
        "confluence_page", description="A Confluence page; `resourceId` is its page id."
    )
    POLICY = strawberry.enum_value(
        "policy", description="A required policy; `resourceId` is its PolicyType."
    )
    CRITICAL_SYSTEM = strawberry.enum_value(
        "critical_system", description="A critical system; `resourceId` is its id."
    )
    ACCESS_REVIEW = strawberry.enum_value(
        "access_review", description="An access review; `resourceId` is its id."
    )


@strawberry.type(description="A framework control the check is evidence for.")
class ControlRef:
    framework: Framework = strawberry.field(description="The framework.")
    id: str = strawberry.field(description="The control's id in the framework, e.g. CC6.2.")
    title: str = strawberry.field(description="The control's title.")


@strawberry.type(description="A failing (or excepted) resource and why.")
class CheckItem:
    resource_type: CheckResourceType = strawberry.field(description="What kind of resource.")
    resource_id: str = strawberry.field(
        description="Its id (use it as `resourceId` of `createCheckException`)."
    )
    name: str | None = strawberry.field(description="A human name for it, when known.")
    reason: str = strawberry.field(description="Why it fails the check.")
    check_id: strawberry.Private[str]
    evaluated_at: strawberry.Private[datetime]
    excepted: strawberry.Private[bool]

    @strawberry.field(
        description="For an item of `exceptedItems`: the exception that covered it when the "
        "result was evaluated (its `expiresAt` says until when). Null for failing items."
    )
    async def exception(self, info: Info) -> CheckException | None:
        if not self.excepted:
            return None
        services = info.context.services
        memo = info.context.memo
        key = ("exceptions", self.check_id)
        if key not in memo:
            memo[key] = await services.check_exceptions.of_check(principal_of(info), self.check_id)
        found = _covering(memo[key], self.resource_id, self.evaluated_at)
        return CheckException.from_domain(found, services.check_exceptions.now()) if found else None

    @classmethod
    def from_domain(
        cls, i: models.CheckItem, r: models.CheckResult, *, excepted: bool
    ) -> CheckItem:
        """Map the domain object (of result ``r``)."""
        return mapped(
            cls,
            i,
            resource_type=CheckResourceType(i.resource_type),
            check_id=r.check_id,
            evaluated_at=r.evaluated_at,
            excepted=excepted,
        )


def _covering(
    exceptions: list[DomainException], resource_id: str, at: datetime
) -> DomainException | None:
    """The exception of ``resource_id`` active at ``at``; else its newest one."""
    mine = [e for e in exceptions if e.resource_id == resource_id]
    for e in mine:
        ended = min(e.expires_at, e.revoked_at) if e.revoked_at else e.expires_at
        if e.created_at <= at < ended:
            return e
    return mine[0] if mine else None


@strawberry.type(description="A failing resource and its cursor.")
class CheckItemEdge(Edge[CheckItem]):
    node: CheckItem = strawberry.field(description="The failing resource.")


@strawberry.type(description="Resources failing a check, in the check's order.")
class CheckItemConnection(Connection[CheckItemEdge]):
    @classmethod
    def of(
        cls, page: Slice[models.CheckItem], result: models.CheckResult, after: str | None
    ) -> CheckItemConnection:
        """Map a service-layer slice of ``result``'s failing items."""
        return cls.of_nodes(page, lambda i: CheckItem.from_domain(i, result, excepted=False), after)


async def _excepted_items(root: CheckResult, info: Info) -> list[CheckItem]:
    """``CheckResult.exceptedItems``: in memory, or read from the store by the result's id."""
    items = root.excepted
    if items is None:
        if root.domain.id is None:  # pragma: no cover - a paged result always has an id
            return []
        items = await info.context.services.checks.excepted_items(
            principal_of(info), root.domain.id
        )
    return [CheckItem.from_domain(i, root.domain, excepted=True) for i in items]


@strawberry.type(description="The outcome of one evaluation of a check.")
class CheckResult:
    id: strawberry.ID = strawberry.field(
        description="Opaque result id (each recorded change has its own)."
    )
    check_id: strawberry.ID = strawberry.field(description="The check evaluated.")
    status: CheckStatus = strawberry.field(description="The outcome.")
    reason: str | None = strawberry.field(
        description="Why, for NOT_MONITORED and ERROR (and a summary otherwise)."
    )
    note: str | None = strawberry.field(
        description="What the evaluation could not see, in one sentence to show beside the "
        'status; null when nothing is missing. The access checks say "access measured through '
        'group membership only; add an Admin API key to see direct grants" when the snapshot '
        "was collected without an Atlassian Admin API key."
    )
    excepted_items: list[CheckItem] = strawberry.field(
        resolver=_excepted_items,
        description="Resources that would fail but are covered by an active exception.",
    )
    evaluated_at: datetime = strawberry.field(description="When it was evaluated (UTC).")
    data_as_of: datetime | None = strawberry.field(
        description="When the data evaluated was collected (UTC); null without synced data."
    )
    snapshot_id: strawberry.ID | None = strawberry.field(
        description="The snapshot evaluated; null when no synced data was involved."
    )
    evidence_id: strawberry.ID | None = strawberry.field(
        description="The evidence record sealing this result (`evidenceRecord(id)`); null "
        "until sealed."
    )
    changed_at: datetime = strawberry.field(
        description="When this result was recorded: the last time the status, the failing "
        "items or the excepted items changed (UTC). Every change has a new result `id`."
    )
    status_changed_at: datetime = strawberry.field(
        description="When the status last changed (UTC): the check has been `status` since "
        "then, whatever its items did meanwhile."
    )
    # The items when they are in memory (a small pushed result, or a whole one); None when
    # they are read from the store by the result's id (``failing_count`` failing ones).
    failing: strawberry.Private[tuple[models.CheckItem, ...] | None]
    excepted: strawberry.Private[tuple[models.CheckItem, ...] | None]
    failing_count: strawberry.Private[int]
    domain: strawberry.Private[models.CheckResult]
    # The check's latest result when it was read or pushed (`checks`, `check`,
    # `checkResultUpdated`), not a history entry.
    latest: strawberry.Private[bool]

    @strawberry.field(
        description="The check this result belongs to (its `id` is stable). For a result of "
        "`checks`, `check` or `checkResultUpdated`, `check.result` is this result, so a "
        "normalised cache keyed by `Check.id` takes a pushed result into `checks` by itself "
        "(docs/frontend.md); for a `checkHistory` entry it is the check's latest result."
    )
    async def check(self, info: Info) -> Check:
        checks = info.context.services.checks
        if self.latest:
            definition = checks.definition(self.check_id)
            if definition is not None:
                return Check.of(definition, self)
        view = await checks.get_check(principal_of(info), str(self.check_id), paged=True)
        if view is None:  # pragma: no cover - results exist only for registered checks
            raise NotFound(f"check {self.check_id} not found")
        return Check.from_view(view)

    @strawberry.field(
        description="Resources failing the check (none when PASSING), a page at a time in the "
        "check's order; `totalCount` is how many fail. Cursors are positions in this result: "
        "a new result (another `id`) starts again from the first page."
    )
    async def failing_items(
        self, info: Info, first: First = None, after: After = None
    ) -> CheckItemConnection:
        if self.failing is not None or self.domain.id is None:
            page = page_of_items(self.failing or (), first, after)
        else:
            page = await info.context.services.checks.failing_items(
                principal_of(info), self.domain.id, self.failing_count, first, after
            )
        return CheckItemConnection.of(page, self.domain, after)

    @classmethod
    def from_domain(
        cls,
        r: models.CheckResult,
        failing_count: int | None = None,
        excepted_count: int | None = None,
        *,
        latest: bool = False,
    ) -> CheckResult:
        """Map the domain object; with ``failing_count``, ``r`` comes without its items (a
        ``paged`` read, or a large pushed result) and they are read from the store: the
        failing ones a page at a time, the excepted ones (``excepted_count``) when asked."""
        paged = failing_count is not None
        return mapped(
            cls,
            r,
            id=strawberry.ID(r.id or f"{r.check_id}@{r.evaluated_at.isoformat()}"),
            status_changed_at=r.status_since,
            failing=None if paged else r.failing_items,
            excepted=None if paged and excepted_count != 0 else r.excepted_items,
            failing_count=failing_count if failing_count is not None else len(r.failing_items),
            domain=r,
            latest=latest,
        )

    @classmethod
    def from_view(cls, view: models.ResultView, *, latest: bool = False) -> CheckResult:
        """Map a result as read (with its items, or with their counts); ``latest``: the
        check's latest result (read or pushed), not a history entry."""
        return cls.from_domain(view.result, view.failing_count, view.excepted_count, latest=latest)


@strawberry.type(
    description="A named rule with a stable id, and its latest result (null before the first "
    "evaluation)."
)
class Check:
    id: strawberry.ID = strawberry.field(description="Stable check id, e.g. `access.mfa`.")
    title: str = strawberry.field(description="Short title.")
    description: str = strawberry.field(description="What the check verifies.")
    fix: str = strawberry.field(description="How to make failing items pass.")
    controls: list[ControlRef] = strawberry.field(
        description="Framework controls the check is evidence for."
    )
    result: CheckResult | None = strawberry.field(
        description="The latest result; null before the first evaluation."
    )

    @classmethod
    def from_view(cls, view: CheckView) -> Check:
        """A check definition with its latest result."""
        result = (
            CheckResult.from_domain(
                view.result, view.failing_count, view.excepted_count, latest=True
            )
            if view.result
            else None
        )
        return cls.of(view.check, result)

    @classmethod
    def of(cls, c: base.Check[Any], result: CheckResult | None) -> Check:
        """A check definition with ``result`` (its latest)."""
        return mapped(
            cls, c, controls=[mapped(ControlRef, ref) for ref in c.controls], result=result
        )


@strawberry.type(description="A recorded result and its cursor.")
class CheckResultEdge(Edge[CheckResult]):
    node: CheckResult = strawberry.field(description="The result.")


@strawberry.type(description="Recorded results of a check, newest first (one per change).")
class CheckResultConnection(Connection[CheckResultEdge]):
    @classmethod
    def of(cls, page: Slice[models.ResultView], after: str | None = None) -> CheckResultConnection:
        """Map a service-layer slice."""
        return cls.of_nodes(page, CheckResult.from_view, after)
