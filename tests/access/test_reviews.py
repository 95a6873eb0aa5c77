"""Critical systems and access reviews (SPEC §5): rules, freezing, decisions, completion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.container import Container
from services.errors import Conflict, Forbidden, NotFound, ValidationFailed
from services.identity.models import Classification
from services.integrations.models import IntegrationStatus
from services.models import Role
from services.reviews.models import AccessDecision, AccessRule, ReviewStatus, SystemKind
from services.reviews.systems import SystemChanges, SystemSettings
from services.store import Store
from tests.access.builders import account
from tests.access.support import connected, make_app, principal, seed_snapshot

ORG = "org_reviews"
ADMIN = principal(ORG)
REVIEWER = principal(ORG, Role.REVIEWER)
ACCOUNTS = [
    account("acc-1", admin=True),
    account("acc-2"),
    account("acc-3"),
    account("acc-gone", status="inactive"),
]


async def setup(store: Store, *, snapshot: bool = True) -> Container:
    app = make_app(store)
    integration = await connected(store, ORG)
    if snapshot:
        await seed_snapshot(store, integration, ACCOUNTS, "snap_rev_1")
    return app


async def test_critical_system_needs_a_connected_integration(store: Store) -> None:
    app = make_app(store)
    with pytest.raises(Conflict) as caught:
        await app.services.systems.add(ADMIN, SystemKind.CONFLUENCE, SystemSettings())
    assert caught.value.code == "NOT_CONNECTED"
    integration = await connected(store, ORG)
    await store.integrations.update(
        integration_id=integration.id, status=IntegrationStatus.NEEDS_REAUTH
    )
    with pytest.raises(Conflict):
        await app.services.systems.add(ADMIN, SystemKind.CONFLUENCE, SystemSettings())


async def test_critical_system_rules(store: Store) -> None:
    app = await setup(store, snapshot=False)
    with pytest.raises(ValidationFailed):
        await app.services.systems.add(
            ADMIN, SystemKind.CONFLUENCE, SystemSettings(access_rule=AccessRule.ROLE_BASED)
        )
    with pytest.raises(ValidationFailed):
        await app.services.systems.add(
            ADMIN, SystemKind.CONFLUENCE, SystemSettings(review_frequency_days=0)
        )
    with pytest.raises(Forbidden):
        await app.services.systems.add(REVIEWER, SystemKind.CONFLUENCE, SystemSettings())
    added = await app.services.systems.add(ADMIN, SystemKind.CONFLUENCE, SystemSettings())
    assert (added.review_frequency_days, added.access_rule, added.allowed_roles) == (
        365,
        AccessRule.ALL_STAFF,
        (),
    )
    with pytest.raises(Conflict) as caught:
        await app.services.systems.add(ADMIN, SystemKind.CONFLUENCE, SystemSettings())
    assert caught.value.code == "ALREADY_EXISTS"
    changed = await app.services.systems.update(
        ADMIN,
        added.id,
        SystemChanges(
            access_rule=AccessRule.ROLE_BASED,
            allowed_roles=(" Engineer", "engineer", "IT"),
            admin_roles=("IT",),
        ),
    )
    assert changed.allowed_roles == ("Engineer", "IT") and changed.review_frequency_days == 365
    with pytest.raises(ValidationFailed):
        await app.services.systems.update(ADMIN, added.id, SystemChanges(allowed_roles=()))
    with pytest.raises(NotFound):
        await app.services.systems.update(principal("org_other"), added.id, SystemChanges())
    assert [s.id for s in await app.services.systems.list_systems(ADMIN)] == [added.id]
    assert await app.services.systems.list_systems(principal("org_other")) == []


async def test_a_review_lists_the_accounts_holding_access(store: Store) -> None:
    """Issue 21: access held directly (no group) is reviewed; an account in a group that
    gives no access role, or suspended in the site's directory, holds none."""
    app = make_app(store)
    integration = await connected(store, ORG)
    accounts = [
        account("acc-group"),
        account("acc-direct", access="direct", directory="active"),
        account("acc-no-role", access="none", directory="active"),
        account("acc-suspended", directory="suspended"),
        account("acc-unknown", status="unknown"),  # a reviewer decides
    ]
    await seed_snapshot(store, integration, accounts, "snap_rev_access")
    system = await app.services.systems.add(ADMIN, SystemKind.CONFLUENCE, SystemSettings())
    review = await app.services.reviews.start(ADMIN, system.id, None)
    listed = {
        e.account_id
        for _, e in (await app.services.reviews.entries(review, None, None, None)).items
    }
    assert listed == {"acc-group", "acc-direct", "acc-unknown"}


async def test_review_lifecycle(store: Store) -> None:
    app = await setup(store)
    system = await app.services.systems.add(ADMIN, SystemKind.CONFLUENCE, SystemSettings())
    due = datetime.now(UTC) + timedelta(days=14)
    with pytest.raises(Forbidden):
        await app.services.reviews.start(REVIEWER, system.id, due)
    with pytest.raises(ValidationFailed):
        await app.services.reviews.start(ADMIN, system.id, datetime.now(UTC) - timedelta(days=1))
    review = await app.services.reviews.start(ADMIN, system.id, due)
    assert review.status is ReviewStatus.OPEN and review.entry_count == 3  # inactive left out
    with pytest.raises(Conflict) as caught:
        await app.services.reviews.start(ADMIN, system.id, due)
    assert caught.value.code == "REVIEW_OPEN"

    entries = {
        e.account_id: e
        for _, e in (await app.services.reviews.entries(review, None, None, None)).items
    }
    assert set(entries) == {"acc-1", "acc-2", "acc-3"}
    assert (
        entries["acc-1"].is_admin and entries["acc-1"].classification is Classification.UNIDENTIFIED
    )

    with pytest.raises(ValidationFailed):  # a note is required for REVOKE
        await app.services.reviews.decide(REVIEWER, entries["acc-2"].id, AccessDecision.REVOKE, " ")
    with pytest.raises(ValidationFailed):  # DOWNGRADE only for admins
        await app.services.reviews.decide(
            REVIEWER, entries["acc-2"].id, AccessDecision.DOWNGRADE, "x"
        )
    with pytest.raises(Forbidden):
        await app.services.reviews.decide(
            principal(ORG, Role.VIEWER), entries["acc-2"].id, AccessDecision.KEEP, None
        )
    with pytest.raises(NotFound):
        await app.services.reviews.decide(
            principal("org_other", Role.ADMIN), entries["acc-2"].id, AccessDecision.KEEP, None
        )
    revoked = await app.services.reviews.decide(
        REVIEWER, entries["acc-2"].id, AccessDecision.REVOKE, "left the team"
    )
    assert (revoked.decision, revoked.note, revoked.decided_by) == (
        AccessDecision.REVOKE,
        "left the team",
        "key_reviewer",
    )
    assert revoked.decided_at is not None
    for blank in (None, "  "):
        with pytest.raises(ValidationFailed, match="a note is required for DOWNGRADE") as caught:
            await app.services.reviews.decide(
                ADMIN, entries["acc-1"].id, AccessDecision.DOWNGRADE, blank
            )
        assert caught.value.field == ["input", "note"]
    await app.services.reviews.decide(
        ADMIN, entries["acc-1"].id, AccessDecision.DOWNGRADE, "no admin needed"
    )

    with pytest.raises(Conflict) as caught:
        await app.services.reviews.complete(REVIEWER, review.id, None)
    assert caught.value.code == "PENDING_ENTRIES" and "1 entries" in caught.value.message
    pending = await app.services.reviews.entries(review, AccessDecision.PENDING, None, None)
    assert [e.account_id for _, e in pending.items] == ["acc-3"]
    done = await app.services.reviews.complete(REVIEWER, review.id, AccessDecision.KEEP)
    assert done.status is ReviewStatus.COMPLETED and done.completed_at is not None
    kept = await app.services.reviews.entries(done, AccessDecision.KEEP, None, None)
    assert [e.account_id for _, e in kept.items] == ["acc-3"]
    with pytest.raises(Conflict):
        await app.services.reviews.decide(
            REVIEWER, entries["acc-3"].id, AccessDecision.REVOKE, "late"
        )
    with pytest.raises(Conflict):
        await app.services.reviews.complete(REVIEWER, review.id, AccessDecision.KEEP)

    again = await app.services.reviews.start(ADMIN, system.id, None)  # a new one may open now
    listed = await app.services.reviews.list_reviews(ADMIN, 1, None)
    assert listed.total_count == 2 and listed.items[0][1].id == again.id and listed.has_next_page
    older = await app.services.reviews.list_reviews(ADMIN, 1, listed.end_cursor)
    assert older.items[0][1].id == review.id
    assert await app.services.reviews.get(principal("org_other"), review.id) is None


async def test_review_needs_a_snapshot(store: Store) -> None:
    app = await setup(store, snapshot=False)
    system = await app.services.systems.add(ADMIN, SystemKind.CONFLUENCE, SystemSettings())
    with pytest.raises(Conflict) as caught:
        await app.services.reviews.start(ADMIN, system.id, None)
    assert caught.value.code == "NO_SNAPSHOT"
