"""``checkSummary`` rolls check statuses up per framework and control (issue 14)."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry

from resolvers.check_summary import summarise
from resolvers.check_types import Check, CheckResult, ControlRef
from services.checks import models
from services.checks.models import CheckStatus
from services.models import Framework

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def check(check_id: str, status: CheckStatus | None, *controls: tuple[Framework, str]) -> Check:
    result = None
    if status is not None:
        result = CheckResult.from_domain(
            models.CheckResult(
                organization_id="org",
                check_id=check_id,
                status=status,
                reason=None,
                failing_items=(),
                excepted_items=(),
                evaluated_at=NOW,
                changed_at=NOW,
                id=f"res-{check_id}",
            )
        )
    return Check(
        id=strawberry.ID(check_id),
        title=check_id,
        description="",
        fix="",
        controls=[ControlRef(framework=f, id=c, title=c) for f, c in controls],
        result=result,
    )


def test_a_control_is_as_bad_as_its_worst_check_and_unevaluated_is_not_monitored() -> None:
    checks = [
        check("a", CheckStatus.PASSING, (Framework.SOC2, "CC6.1"), (Framework.ISO27001, "A.5.15")),
        check("b", CheckStatus.FAILING, (Framework.SOC2, "CC6.1")),
        check("c", None, (Framework.SOC2, "CC6.2")),
        check("d", CheckStatus.ERROR, (Framework.SOC2, "CC6.2"), (Framework.SOC2, "CC6.1")),
    ]
    soc2, iso = summarise(checks, [Framework.SOC2, Framework.ISO27001])

    assert soc2.framework is Framework.SOC2
    assert (soc2.counts.total, soc2.counts.passing, soc2.counts.failing) == (4, 1, 1)
    assert (soc2.counts.error, soc2.counts.not_monitored) == (1, 1)
    cc61, cc62 = soc2.controls
    assert (cc61.control.id, cc61.status, [c.id for c in cc61.checks]) == (
        "CC6.1",
        CheckStatus.FAILING,
        ["a", "b", "d"],
    )
    assert (cc62.control.id, cc62.status, cc62.counts.total) == ("CC6.2", CheckStatus.ERROR, 2)
    assert [(c.control.id, c.status) for c in iso.controls] == [("A.5.15", CheckStatus.PASSING)]
    assert iso.counts.total == 1


def test_no_checks_means_nothing_to_show() -> None:
    [empty] = summarise([], [Framework.SOC2])
    assert empty.controls == [] and empty.counts.total == 0
