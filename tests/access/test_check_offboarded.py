"""confluence-offboarded-access-removed: every pass/fail condition (SPEC §6), table-driven."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.checks.access.offboarded import OffboardedAccessRemoved
from services.checks.models import CheckStatus
from tests.access.builders import NOW, account, data, not_staff, one_staff, person, staff
from tests.conftest import named_cases

CHECK = OffboardedAccessRemoved()
GONE = person("gone@acme.test", offboarded=NOW - timedelta(hours=30))
RECENT = person("recent@acme.test", offboarded=NOW - timedelta(hours=23))
FUTURE = person("later@acme.test", offboarded=NOW + timedelta(days=3))
ACTIVE = person("here@acme.test")

CASES = [
    ("offboarded > 24 h ago, account active", *one_staff(GONE), CheckStatus.FAILING, ["a1"]),
    ("within the 24 h grace period", *one_staff(RECENT), CheckStatus.PASSING, []),
    ("offboarding date in the future", *one_staff(FUTURE), CheckStatus.PASSING, []),
    ("account deactivated", *one_staff(GONE, status="inactive"), CheckStatus.PASSING, []),
    ("account closed", *one_staff(GONE, status="closed"), CheckStatus.PASSING, []),
    (
        "status unknown is not 'still active'",
        *one_staff(GONE, status="unknown"),
        CheckStatus.PASSING,
        [],
    ),
    (
        "reactivated account (active again in the latest snapshot)",
        *one_staff(GONE),
        CheckStatus.FAILING,
        ["a1"],
    ),
    (
        "hidden email, linked by hand",
        [account("a1", email=None)],
        [GONE],
        [staff("a1", GONE, manual=True)],
        CheckStatus.FAILING,
        ["a1"],
    ),
    (
        "hidden email, not linked: not this check's business",
        [account("a1", email=None)],
        [GONE],
        [],
        CheckStatus.PASSING,
        [],
    ),
    ("active person", *one_staff(ACTIVE), CheckStatus.PASSING, []),
    ("not-staff account", [account("a1")], [GONE], [not_staff("a1")], CheckStatus.PASSING, []),
    ("app account", [account("a1", type="app")], [], [], CheckStatus.PASSING, []),
    (
        "access granted directly, in no group (issue 21: was a false PASS)",
        *one_staff(GONE, access="direct", directory="active"),
        CheckStatus.FAILING,
        ["a1"],
    ),
    (
        "suspended in the site's directory: no access, whatever it holds",
        *one_staff(GONE, access="direct", directory="suspended"),
        CheckStatus.PASSING,
        [],
    ),
    (
        "in a group that gives no access role, nothing direct",
        *one_staff(GONE, access="none", directory="active"),
        CheckStatus.PASSING,
        [],
    ),
    (
        "suspended in another directory only: still has access here",
        *one_staff(GONE, access="direct", directory="no_membership"),
        CheckStatus.FAILING,
        ["a1"],
    ),
    (
        "two accounts of one offboarded person",
        [account("a1"), account("a2")],
        [GONE],
        [staff("a1", GONE), staff("a2", GONE)],
        CheckStatus.FAILING,
        ["a1", "a2"],
    ),
]


@named_cases(("name", "accounts", "people", "identities", "status", "failing"), CASES)
def test_offboarded_access_removed(name, accounts, people, identities, status, failing) -> None:
    outcome = CHECK.evaluate(data(accounts, people=people, identities=identities))
    assert outcome.status is status, outcome.reason
    assert [i.resource_id for i in outcome.failing_items] == failing
    for item in outcome.failing_items:
        assert item.resource_type == "account"
        assert "offboarded" in item.reason and "still has Confluence access" in item.reason


@pytest.mark.parametrize(
    ("since", "status"),
    [
        (timedelta(hours=24), CheckStatus.PASSING),  # exactly the grace period: not "more than"
        (timedelta(hours=24, seconds=1), CheckStatus.FAILING),
    ],
)
def test_grace_period_boundary(since: timedelta, status: CheckStatus) -> None:
    left = person("edge@acme.test", offboarded=NOW - since)
    case = data([account("a1")], people=[left], identities=[staff("a1", left)])
    assert CHECK.evaluate(case).status is status


def test_grace_period_is_configurable() -> None:
    case = data(
        [account("a1")],
        people=[RECENT],
        identities=[staff("a1", RECENT)],
        grace_period=timedelta(hours=1),
    )
    assert CHECK.evaluate(case).status is CheckStatus.FAILING


def test_result_carries_the_snapshot_and_the_population() -> None:
    outcome = CHECK.evaluate(
        data([account("a1"), account("a2")], people=[GONE], identities=[staff("a1", GONE)])
    )
    assert outcome.snapshot_id == "snap_1"
    assert outcome.data_as_of == NOW - timedelta(hours=1)
    assert outcome.population.kind == "accounts"
    rows = {r["accountId"]: r for r in outcome.population.items}
    assert rows["a1"]["classification"] == "STAFF" and rows["a1"]["personId"] == GONE.id
    assert rows["a2"]["classification"] == "UNIDENTIFIED"


def test_the_item_says_how_the_access_is_held() -> None:
    direct = account("a1", access="direct", directory="active")
    group = account("a2")
    outcome = CHECK.evaluate(
        data([direct, group], people=[GONE], identities=[staff("a1", GONE), staff("a2", GONE)])
    )
    reasons = {i.resource_id: i.reason for i in outcome.failing_items}
    assert reasons["a1"].endswith("still has Confluence access (directly)")
    assert reasons["a2"].endswith("still has Confluence access (through group confluence-users)")


def test_measured_through_groups_only_says_so() -> None:
    """Issue 21: without the Admin API's directory the result carries one sentence saying
    that direct grants are out of sight; with it, none."""
    identities = [staff("a1", GONE)]
    groups_only = CHECK.evaluate(data([account("a1")], people=[GONE], identities=identities))
    assert groups_only.note == (
        "access measured through group membership only; add an Admin API key to see direct grants"
    )
    keyed = CHECK.evaluate(
        data([account("a1", directory="active")], people=[GONE], identities=identities)
    )
    assert keyed.status is CheckStatus.FAILING and keyed.note is None
