"""confluence-access-review-completed: every pass/fail condition (SPEC §6), table-driven."""

from __future__ import annotations

from datetime import timedelta

from services.checks.access.review_completed import AccessReviewCompleted
from services.checks.models import CheckStatus
from services.integrations.models import IntegrationStatus
from tests.access.builders import completed, data, integration, open_review, system
from tests.conftest import named_cases

CHECK = AccessReviewCompleted()

CASES = [
    ("no completed review at all", {}, CheckStatus.FAILING, ["sys_1"]),
    (
        "completed within the period",
        {"completed_review": completed({}, days_ago=100)},
        CheckStatus.PASSING,
        [],
    ),
    (
        "completed longer ago than the period",
        {"completed_review": completed({}, days_ago=366)},
        CheckStatus.FAILING,
        ["sys_1"],
    ),
    (
        "shorter frequency",
        {"completed_review": completed({}, days_ago=100), "system": system(frequency=90)},
        CheckStatus.FAILING,
        ["sys_1"],
    ),
    (
        "open review not yet due",
        {
            "completed_review": completed({}, days_ago=100),
            "open_review": open_review(due_in=timedelta(days=5)),
        },
        CheckStatus.PASSING,
        [],
    ),
    (
        "open review past its due date",
        {
            "completed_review": completed({}, days_ago=100),
            "open_review": open_review(due_in=-timedelta(hours=1)),
        },
        CheckStatus.FAILING,
        ["rev_open"],
    ),
    (
        "open review without a due date",
        {"completed_review": completed({}, days_ago=100), "open_review": open_review(due_in=None)},
        CheckStatus.PASSING,
        [],
    ),
    (
        "never completed and the open one overdue",
        {"open_review": open_review(due_in=-timedelta(days=1))},
        CheckStatus.FAILING,
        ["rev_open", "sys_1"],
    ),
    (
        "reviews do not depend on snapshot freshness",
        {
            "completed_review": completed({}, days_ago=1),
            "integration": integration(status=IntegrationStatus.NEEDS_REAUTH),
        },
        CheckStatus.PASSING,
        [],
    ),
    (
        "works before the first sync",
        {"completed_review": completed({}, days_ago=1), "integration": integration(synced=None)},
        CheckStatus.PASSING,
        [],
    ),
]


@named_cases(("name", "fields", "status", "failing"), CASES)
def test_access_review_completed(name, fields, status, failing) -> None:
    outcome = CHECK.evaluate(data([], **fields))
    assert outcome.status is status
    assert [i.resource_id for i in outcome.failing_items] == failing
    types = {i.resource_id: i.resource_type for i in outcome.failing_items}
    assert all(types[r] == ("critical_system" if r == "sys_1" else "access_review") for r in types)
