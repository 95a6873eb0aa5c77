"""confluence-access-valid: every pass/fail condition (SPEC §5, §6), table-driven."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from services.checks.access.valid import AccessValid
from services.checks.models import CheckStatus
from services.reviews.models import AccessDecision as D
from services.reviews.models import AccessRule
from services.sync.models import Grant
from tests.access.builders import (
    NOW,
    account,
    completed,
    data,
    not_staff,
    one_staff,
    person,
    staff,
    system,
)
from tests.conftest import named_cases

CHECK = AccessValid()
ENG = person("eng@acme.test", role="Engineer")
SALES = person("sales@acme.test", role="Sales")
NOROLE = person("norole@acme.test", role=None)
GONE = person("gone@acme.test", role="Sales", offboarded=NOW - timedelta(days=3))
ROLES = system(AccessRule.ROLE_BASED, allowed=("Engineer", "IT"))
ADMINS = system(AccessRule.ROLE_BASED, allowed=("Engineer", "IT"), admin_roles=("IT",))
ALL_ADMINS = system(AccessRule.ALL_STAFF, admin_roles=("IT",))

CASES = [
    # (name, accounts, people, identities, system, review, status, {failing id: reason start})
    (
        "ALL_STAFF: any active staff member",
        *one_staff(SALES),
        system(),
        None,
        CheckStatus.PASSING,
        {},
    ),
    ("ROLE_BASED: allowed role", *one_staff(ENG), ROLES, None, CheckStatus.PASSING, {}),
    (
        "ROLE_BASED: allowed role, other case",
        [account("a1")],
        [person("e2@acme.test", role=" engineer ")],
        [staff("a1", person("e2@acme.test"))],
        ROLES,
        None,
        CheckStatus.PASSING,
        {},
    ),
    (
        "ROLE_BASED: role not allowed → revoke",
        *one_staff(SALES),
        ROLES,
        None,
        CheckStatus.FAILING,
        {"a1": "revoke"},
    ),
    (
        "ROLE_BASED: no job role → revoke",
        *one_staff(NOROLE),
        ROLES,
        None,
        CheckStatus.FAILING,
        {"a1": "revoke"},
    ),
    (
        "admin without an admin role → downgrade",
        *one_staff(ENG, admin=True),
        ADMINS,
        None,
        CheckStatus.FAILING,
        {"a1": "downgrade"},
    ),
    (
        "ALL_STAFF with admin roles: admin without one → downgrade",
        *one_staff(SALES, admin=True),
        ALL_ADMINS,
        None,
        CheckStatus.FAILING,
        {"a1": "downgrade"},
    ),
    (
        "admin roles set: a non-admin account needs no admin role",
        [account("a1"), account("a2")],
        [ENG, SALES],
        [staff("a1", ENG), staff("a2", SALES)],
        ADMINS,
        None,
        CheckStatus.FAILING,
        {"a2": "revoke"},
    ),
    (
        "ALL_STAFF with admin roles: a non-admin account needs no admin role",
        *one_staff(SALES),
        ALL_ADMINS,
        None,
        CheckStatus.PASSING,
        {},
    ),
    (
        "admin with an admin role",
        *one_staff(person("it@acme.test", role="IT"), admin=True),
        ADMINS,
        None,
        CheckStatus.PASSING,
        {},
    ),
    (
        "no admin roles set: any allowed role may be admin",
        *one_staff(ENG, admin=True),
        ROLES,
        None,
        CheckStatus.PASSING,
        {},
    ),
    (
        "KEEP in the latest completed review overrides the rule",
        *one_staff(SALES, admin=True),
        ADMINS,
        completed({"a1": D.KEEP}),
        CheckStatus.PASSING,
        {},
    ),
    (
        "REVOKE not carried out (still active)",
        *one_staff(ENG),
        ROLES,
        completed({"a1": D.REVOKE}),
        CheckStatus.FAILING,
        {"a1": "revoke: access was revoked"},
    ),
    (
        "REVOKE carried out (inactive)",
        *one_staff(ENG, status="inactive"),
        ROLES,
        completed({"a1": D.REVOKE}),
        CheckStatus.PASSING,
        {},
    ),
    (
        "REVOKE of an unidentified account not carried out",
        [account("a1")],
        [],
        [],
        ROLES,
        completed({"a1": D.REVOKE}),
        CheckStatus.FAILING,
        {"a1": "revoke"},
    ),
    (
        "DOWNGRADE not carried out (still admin)",
        *one_staff(ENG, admin=True),
        ROLES,
        completed({"a1": D.DOWNGRADE}),
        CheckStatus.FAILING,
        {"a1": "downgrade: admin rights were removed"},
    ),
    (
        "DOWNGRADE carried out (no longer admin), role allowed: valid by the rule",
        *one_staff(ENG),
        ADMINS,
        completed({"a1": D.DOWNGRADE}),
        CheckStatus.PASSING,
        {},
    ),
    # SPEC §5: only KEEP approves access as it is; a carried-out DOWNGRADE is no approval.
    (
        "DOWNGRADE carried out does not override the rule",
        *one_staff(SALES),
        ROLES,
        completed({"a1": D.DOWNGRADE}),
        CheckStatus.FAILING,
        {"a1": "revoke: sales@acme.test's role (Sales) is not allowed"},
    ),
    (
        "not staff with a reason is valid",
        [account("a1", admin=True)],
        [],
        [not_staff("a1")],
        ADMINS,
        None,
        CheckStatus.PASSING,
        {},
    ),
    (
        "not staff without a reason → revoke",
        [account("a1")],
        [],
        [not_staff("a1", reason=None)],
        ROLES,
        None,
        CheckStatus.FAILING,
        {"a1": "revoke"},
    ),
    (
        "unidentified accounts are judged by their own check",
        [account("a1")],
        [],
        [],
        ROLES,
        None,
        CheckStatus.PASSING,
        {},
    ),
    (
        "offboarded people's accounts are judged by their own check",
        *one_staff(GONE),
        ROLES,
        None,
        CheckStatus.PASSING,
        {},
    ),
    (
        "inactive accounts have no access to judge",
        *one_staff(SALES, status="inactive"),
        ROLES,
        None,
        CheckStatus.PASSING,
        {},
    ),
]


@named_cases(
    ("name", "accounts", "people", "identities", "rule", "review", "status", "failing"), CASES
)
def test_access_valid(name, accounts, people, identities, rule, review, status, failing) -> None:
    case = data(
        accounts, people=people, identities=identities, system=rule, completed_review=review
    )
    outcome = CHECK.evaluate(case)
    assert outcome.status is status, outcome.failing_items
    got = {i.resource_id: i.reason for i in outcome.failing_items}
    assert set(got) == set(failing)
    for account_id, start in failing.items():
        assert got[account_id].startswith(start), got[account_id]


def test_only_the_latest_completed_review_counts() -> None:
    # The data source hands the check the latest completed review only: an older KEEP that
    # is not in it no longer approves the account.
    case = data(
        [account("a1")],
        people=[SALES],
        identities=[staff("a1", SALES)],
        system=ROLES,
        completed_review=completed({}),
    )
    assert CHECK.evaluate(case).status is CheckStatus.FAILING


def test_the_item_says_where_the_admin_right_comes_from() -> None:
    """Issue 21: an admin right is a role (through a group or directly) or, without an Admin
    API key, membership of a configured admin group — the item says which."""
    by_role = replace(account("a1"), admin_via=(Grant.direct("atlassian/admin"),))
    by_setting = account("a2", admin=True)
    case = data(
        [by_role, by_setting],
        people=[ENG],
        identities=[staff("a1", ENG), staff("a2", ENG)],
        system=ADMINS,
    )
    reasons = {i.resource_id: i.reason for i in CHECK.evaluate(case).failing_items}
    assert reasons["a1"].startswith("downgrade: admin (role atlassian/admin granted directly)")
    assert reasons["a2"].startswith(
        "downgrade: admin (through group confluence-administrators (a configured admin group))"
    )


def test_direct_access_is_judged_and_a_group_without_access_is_not() -> None:
    case = data(
        [account("a1", access="direct", directory="active"), account("a2", access="none")],
        people=[SALES],
        identities=[staff("a1", SALES), staff("a2", SALES)],
        system=ROLES,
    )
    assert [i.resource_id for i in CHECK.evaluate(case).failing_items] == ["a1"]
