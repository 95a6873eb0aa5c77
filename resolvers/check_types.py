"""GraphQL types of checks and their results (SPEC §6, §7)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry

from resolvers.relay import PageInfo
from resolvers.types import Framework
from services.checks import base
from services.checks.service import CheckView
from services.paging import Slice


@strawberry.enum
class CheckStatus(Enum):
    """The outcome of a check."""

    PASSING = "PASSING"
    FAILING = "FAILING"
    NOT_MONITORED = "NOT_MONITORED"
    ERROR = "ERROR"


@strawberry.type
class ControlRef:
    """A framework control the check is evidence for."""

    framework: Framework
    id: str
    title: str


@strawberry.type
class CheckItem:
    """A failing (or excepted) resource and why."""

    resource_type: str
    resource_id: str
    name: str | None
    reason: str

    @classmethod
    def from_domain(cls, i: base.CheckItem) -> CheckItem:
        """Map the domain object."""
        return cls(
            resource_type=i.resource_type, resource_id=i.resource_id, name=i.name, reason=i.reason
        )


@strawberry.type
class CheckResult:
    """The outcome of one evaluation of a check."""

    id: strawberry.ID | None
    check_id: strawberry.ID
    status: CheckStatus
    reason: str | None
    failing_items: list[CheckItem]
    excepted_items: list[CheckItem]
    evaluated_at: datetime
    data_as_of: datetime | None
    snapshot_id: strawberry.ID | None
    evidence_id: strawberry.ID | None
    changed_at: datetime

    @classmethod
    def from_domain(cls, r: base.CheckResult) -> CheckResult:
        """Map the domain object."""
        return cls(
            id=strawberry.ID(r.id) if r.id else None,
            check_id=strawberry.ID(r.check_id),
            status=CheckStatus(r.status.value),
            reason=r.reason,
            failing_items=[CheckItem.from_domain(i) for i in r.failing_items],
            excepted_items=[CheckItem.from_domain(i) for i in r.excepted_items],
            evaluated_at=r.evaluated_at,
            data_as_of=r.data_as_of,
            snapshot_id=strawberry.ID(r.snapshot_id) if r.snapshot_id else None,
            evidence_id=strawberry.ID(r.evidence_id) if r.evidence_id else None,
            changed_at=r.changed_at,
        )


@strawberry.type
class Check:
    """A named rule with a stable id, and its latest result (null before the first run)."""

    id: strawberry.ID
    title: str
    description: str
    fix: str
    controls: list[ControlRef]
    result: CheckResult | None

    @classmethod
    def from_view(cls, view: CheckView) -> Check:
        """A check definition with its latest result."""
        c: base.Check[Any] = view.check
        return cls(
            id=strawberry.ID(c.id),
            title=c.title,
            description=c.description,
            fix=c.fix,
            controls=[
                ControlRef(framework=Framework(ref.framework.value), id=ref.id, title=ref.title)
                for ref in c.controls
            ],
            result=CheckResult.from_domain(view.result) if view.result else None,
        )


@strawberry.type
class CheckResultEdge:
    """A recorded result and its cursor."""

    cursor: str
    node: CheckResult


@strawberry.type
class CheckResultConnection:
    """Recorded results of a check, newest first (one per change)."""

    edges: list[CheckResultEdge]
    page_info: PageInfo
    total_count: int

    @classmethod
    def of(cls, page: Slice[base.CheckResult]) -> CheckResultConnection:
        """Map a service-layer slice."""
        edges = [CheckResultEdge(cursor=c, node=CheckResult.from_domain(r)) for c, r in page.items]
        return cls(edges=edges, page_info=PageInfo.of(page), total_count=page.total_count)
