"""confluence-user-identified: every pass/fail condition (SPEC §6), table-driven."""

from __future__ import annotations

from services.checks.access.identified import UserIdentified
from services.checks.models import CheckStatus
from services.identity.models import Identity
from services.identity.resolution import automatic_identity
from tests.access.builders import account, data, not_staff, person, staff
from tests.conftest import named_cases

CHECK = UserIdentified()
ALICE = person("alice@acme.test")
BOT = account("bot", type="app")
BOT_IDENTITY = automatic_identity(BOT, {})

CASES = [
    (
        "active unidentified account",
        [account("a1", email="x@acme.test")],
        [],
        [],
        CheckStatus.FAILING,
        ["a1"],
    ),
    (
        "hidden email, unidentified",
        [account("a1", email=None)],
        [],
        [],
        CheckStatus.FAILING,
        ["a1"],
    ),
    ("linked to a person", [account("a1")], [ALICE], [staff("a1", ALICE)], CheckStatus.PASSING, []),
    ("app account, classified automatically", [BOT], [], [BOT_IDENTITY], CheckStatus.PASSING, []),
    ("app account before resolution ran", [BOT], [], [], CheckStatus.FAILING, ["bot"]),
    ("marked not staff", [account("a1")], [], [not_staff("a1")], CheckStatus.PASSING, []),
    ("inactive unidentified", [account("a1", status="inactive")], [], [], CheckStatus.PASSING, []),
    ("closed unidentified", [account("a1", status="closed")], [], [], CheckStatus.PASSING, []),
    (
        "cleared identity (stored UNIDENTIFIED)",
        [account("a1")],
        [],
        [Identity("a1")],
        CheckStatus.FAILING,
        ["a1"],
    ),
    (
        "mixed: only the unidentified active ones fail",
        [account("a1"), account("a2"), account("a3", status="inactive"), account("a4")],
        [ALICE],
        [staff("a1", ALICE)],
        CheckStatus.FAILING,
        ["a2", "a4"],
    ),
]


@named_cases(("name", "accounts", "people", "identities", "status", "failing"), CASES)
def test_user_identified(name, accounts, people, identities, status, failing) -> None:
    outcome = CHECK.evaluate(data(accounts, people=people, identities=identities))
    assert outcome.status is status
    assert [i.resource_id for i in outcome.failing_items] == failing


def test_hidden_email_is_named_in_the_reason() -> None:
    outcome = CHECK.evaluate(data([account("a1", email=None)]))
    assert "hidden" in outcome.failing_items[0].reason
