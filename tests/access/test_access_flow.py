"""The access checks over the store, re-evaluated after each kind of change. Both stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api.container import Container
from services.checks.models import CheckStatus
from services.identity.models import NotStaffKind
from services.people.models import PersonStatus
from services.people.validation import PersonDraft
from services.reviews.models import AccessDecision, AccessRule, SystemKind
from services.reviews.systems import SystemChanges, SystemSettings
from services.store import Store
from tests.access.builders import account
from tests.access.support import connected, make_app, principal, seed_snapshot

ORG = "org_flow"
ADMIN = principal(ORG)
ACCOUNTS = [
    account("acc-ann", email="ann@acme.test", admin=True),
    account("acc-bob", email="bob@acme.test", mfa=False),
    account("acc-bot", type="app", mfa=None),
    account("acc-x", email=None),
]


def draft(email: str, role: str) -> PersonDraft:
    return PersonDraft(email, None, PersonStatus.ACTIVE, role, None, None)


async def statuses(app: Container) -> dict[str, tuple[CheckStatus, list[str]]]:
    await app.reevaluator.settle()
    views = await app.services.checks.list_checks(ADMIN)
    return {
        v.check.id.removeprefix("confluence-"): (
            v.result.status,
            [i.resource_id for i in v.result.failing_items],
        )
        for v in views
        if v.result is not None
    }


async def test_checks_follow_every_kind_of_change(store: Store) -> None:
    app = make_app(store)
    integration = await connected(store, ORG)
    await seed_snapshot(store, integration, ACCOUNTS, "snap_flow_1")
    app.reevaluator.request(ORG)
    got = await statuses(app)
    assert {s for s, _ in got.values()} == {CheckStatus.NOT_MONITORED}

    await app.services.systems.add(ADMIN, SystemKind.CONFLUENCE, SystemSettings())
    got = await statuses(app)
    assert got["user-identified"] == (
        CheckStatus.FAILING,
        ["acc-ann", "acc-bob", "acc-bot", "acc-x"],
    )
    assert got["offboarded-access-removed"] == (CheckStatus.PASSING, [])
    assert got["access-review-completed"][0] is CheckStatus.FAILING
    assert got["mfa-enabled"] == (CheckStatus.PASSING, [])  # nobody is STAFF yet

    await app.services.identities.resolve(ORG)  # what a sync does: the app account is SYSTEM
    await app.services.people.upsert(
        ADMIN, [draft("ann@acme.test", "Engineer"), draft("bob@acme.test", "Sales")]
    )
    got = await statuses(app)
    assert got["user-identified"] == (CheckStatus.FAILING, ["acc-x"])
    assert got["mfa-enabled"] == (CheckStatus.FAILING, ["acc-bob"])

    await app.services.identities.mark_not_staff(
        ADMIN, "acc-x", NotStaffKind.SHARED, "shared inbox"
    )
    system = (await app.services.systems.list_systems(ADMIN))[0]
    await app.services.systems.update(
        ADMIN,
        system.id,
        SystemChanges(
            access_rule=AccessRule.ROLE_BASED, allowed_roles=("Engineer",), admin_roles=("IT",)
        ),
    )
    got = await statuses(app)
    assert got["user-identified"] == (CheckStatus.PASSING, [])
    assert got["access-valid"] == (CheckStatus.FAILING, ["acc-ann", "acc-bob"])

    review = await app.services.reviews.start(
        ADMIN, system.id, datetime.now(UTC) + timedelta(days=7)
    )
    entries = {
        e.account_id: e
        for _, e in (await app.services.reviews.entries(review, None, None, None)).items
    }
    await app.services.reviews.decide(ADMIN, entries["acc-ann"].id, AccessDecision.KEEP, None)
    await app.services.reviews.decide(
        ADMIN, entries["acc-bob"].id, AccessDecision.REVOKE, "sales has no need"
    )
    await app.services.reviews.complete(ADMIN, review.id, AccessDecision.KEEP)
    got = await statuses(app)
    assert got["access-review-completed"] == (CheckStatus.PASSING, [])
    valid = await app.services.checks.get_check(ADMIN, "confluence-access-valid")
    assert valid is not None and valid.result is not None
    assert [(i.resource_id, i.reason.split(":")[0]) for i in valid.result.failing_items] == [
        ("acc-bob", "revoke")
    ]

    bob = next(p for p in (await app.directory.people(ORG)).values() if p.email == "bob@acme.test")
    await app.services.people.offboard(ADMIN, bob.id, datetime.now(UTC) - timedelta(days=2))
    got = await statuses(app)
    assert got["offboarded-access-removed"] == (CheckStatus.FAILING, ["acc-bob"])
    history = await app.services.checks.history(ADMIN, "confluence-user-identified", None, None)
    assert [v.result.status for _, v in history.items] == [
        CheckStatus.PASSING,
        CheckStatus.FAILING,
        CheckStatus.FAILING,
        CheckStatus.NOT_MONITORED,
    ]
    assert history.items[0][1].result.snapshot_id == "snap_flow_1"
