"""``checkSummary``: the checks' latest statuses rolled up per framework and control."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

import strawberry

from resolvers.check_types import Check, ControlRef
from resolvers.context import Info, principal_of
from services.checks.models import CheckStatus
from services.models import Framework

#: Worst first: a control is as bad as its worst check.
_SEVERITY = [
    CheckStatus.FAILING,
    CheckStatus.ERROR,
    CheckStatus.NOT_MONITORED,
    CheckStatus.PASSING,
]


@strawberry.type(description="How many checks have each status.")
class StatusCounts:
    passing: int = strawberry.field(description="Checks PASSING.")
    failing: int = strawberry.field(description="Checks FAILING.")
    not_monitored: int = strawberry.field(
        description="Checks NOT_MONITORED (including checks never evaluated yet)."
    )
    error: int = strawberry.field(description="Checks in ERROR.")
    total: int = strawberry.field(description="All checks counted.")

    @classmethod
    def of(cls, statuses: Iterable[CheckStatus]) -> StatusCounts:
        """Count a set of statuses."""
        seen = list(statuses)
        return cls(
            passing=seen.count(CheckStatus.PASSING),
            failing=seen.count(CheckStatus.FAILING),
            not_monitored=seen.count(CheckStatus.NOT_MONITORED),
            error=seen.count(CheckStatus.ERROR),
            total=len(seen),
        )


@strawberry.type(description="One control of a framework and the checks that are evidence for it.")
class ControlSummary:
    control: ControlRef = strawberry.field(description="The control.")
    status: CheckStatus = strawberry.field(
        description="The worst status of its checks (FAILING, then ERROR, then NOT_MONITORED, "
        "then PASSING)."
    )
    counts: StatusCounts = strawberry.field(description="Its checks by status.")
    checks: list[Check] = strawberry.field(description="Its checks with their latest result.")


@strawberry.type(description="A framework's checks and controls, rolled up.")
class FrameworkSummary:
    framework: Framework = strawberry.field(description="The framework.")
    counts: StatusCounts = strawberry.field(
        description="Checks mapped to at least one of its controls, by status."
    )
    controls: list[ControlSummary] = strawberry.field(
        description="Its controls that checks cover, in control id order."
    )


def status_of(check: Check) -> CheckStatus:
    """A check's latest status; never evaluated counts as NOT_MONITORED."""
    return check.result.status if check.result else CheckStatus.NOT_MONITORED


def worst(statuses: Iterable[CheckStatus]) -> CheckStatus:
    """The most severe of ``statuses`` (PASSING for none)."""
    present = set(statuses)
    return next((s for s in _SEVERITY if s in present), CheckStatus.PASSING)


def summarise(checks: list[Check], frameworks: Iterable[Framework]) -> list[FrameworkSummary]:
    """Roll ``checks`` up per framework and control."""
    summaries = []
    for framework in frameworks:
        by_control: dict[str, tuple[ControlRef, list[Check]]] = {}
        for check in checks:
            for ref in check.controls:
                if ref.framework is framework:
                    by_control.setdefault(ref.id, (ref, []))[1].append(check)
        covered = {c.id: c for _, group in by_control.values() for c in group}
        controls = [
            ControlSummary(
                control=ref,
                status=worst(status_of(c) for c in group),
                counts=StatusCounts.of(status_of(c) for c in group),
                checks=group,
            )
            for _, (ref, group) in sorted(by_control.items())
        ]
        summaries.append(
            FrameworkSummary(
                framework=framework,
                counts=StatusCounts.of(status_of(c) for c in covered.values()),
                controls=controls,
            )
        )
    return summaries


@strawberry.type(description="Rolled-up check statuses.")
class CheckSummaryQuery:
    @strawberry.field(
        description="The checks' latest statuses per framework and per control (every role): "
        "one entry per framework, SOC2 then ISO27001, or only the one asked for."
    )
    async def check_summary(
        self,
        info: Info,
        framework: Annotated[
            Framework | None, strawberry.argument(description="Only this framework.")
        ] = None,
    ) -> list[FrameworkSummary]:
        views = await info.context.services.checks.list_checks(principal_of(info), paged=True)
        checks = [Check.from_view(v) for v in views]
        return summarise(checks, [framework] if framework else list(Framework))
