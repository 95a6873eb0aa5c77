"""confluence-mfa-enabled: every pass/fail condition, MFA unknown vs false (SPEC §2.4, §6)."""

from __future__ import annotations

from services.checks.access.mfa import NO_DATA, NO_KEY, MfaEnabled
from services.checks.models import CheckStatus
from tests.access.builders import account, data, integration, not_staff, person, staff
from tests.conftest import named_cases

CHECK = MfaEnabled()
ALICE = person("alice@acme.test")

CASES = [
    (
        "staff with MFA off",
        [account("a1", mfa=False)],
        [staff("a1", ALICE)],
        {},
        CheckStatus.FAILING,
        ["a1"],
        None,
    ),
    (
        "staff with MFA on",
        [account("a1", mfa=True)],
        [staff("a1", ALICE)],
        {},
        CheckStatus.PASSING,
        [],
        None,
    ),
    (
        "MFA unknown is not false",
        [account("a1", mfa=None), account("a2", mfa=True)],
        [staff("a1", ALICE)],
        {},
        CheckStatus.PASSING,
        [],
        None,
    ),
    (
        "not staff with MFA off",
        [account("a1", mfa=False)],
        [not_staff("a1")],
        {},
        CheckStatus.PASSING,
        [],
        None,
    ),
    (
        "unidentified with MFA off",
        [account("a1", mfa=False)],
        [],
        {},
        CheckStatus.PASSING,
        [],
        None,
    ),
    (
        "inactive staff with MFA off",
        [account("a1", mfa=False, status="inactive")],
        [staff("a1", ALICE)],
        {},
        CheckStatus.PASSING,
        [],
        None,
    ),
    (
        "no admin key → NOT_MONITORED",
        [account("a1", mfa=False)],
        [staff("a1", ALICE)],
        {"integration": integration(admin_key=False)},
        CheckStatus.NOT_MONITORED,
        [],
        NO_KEY,
    ),
    (
        "admin key but no MFA data yet → NOT_MONITORED",
        [account("a1", mfa=None)],
        [staff("a1", ALICE)],
        {},
        CheckStatus.NOT_MONITORED,
        [],
        NO_DATA,
    ),
]


@named_cases(("name", "accounts", "identities", "fields", "status", "failing", "reason"), CASES)
def test_mfa_enabled(name, accounts, identities, fields, status, failing, reason) -> None:
    outcome = CHECK.evaluate(data(accounts, people=[ALICE], identities=identities, **fields))
    assert outcome.status is status
    assert [i.resource_id for i in outcome.failing_items] == failing
    if reason is not None:
        assert outcome.reason == reason
