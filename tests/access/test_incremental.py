"""Incremental evaluation (issue 15): a change re-resolves only the identities it touches,
re-evaluates only the checks that read what it changed, leaves the other results untouched,
serialises a population once — and the outcome always equals a full re-evaluation."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from api.container import Container
from services.checks.access.identified import UserIdentified
from services.checks.access.mfa import MfaEnabled
from services.checks.access.offboarded import OffboardedAccessRemoved
from services.checks.access.review_completed import AccessReviewCompleted
from services.checks.access.valid import AccessValid
from services.checks.registry import CHECKS
from services.evidence.recorder import EvidenceRecorder
from services.evidence.service import EvidenceService
from services.identity.models import NotStaffKind
from services.models import Role
from services.people.models import PersonStatus
from services.people.validation import PersonDraft
from services.reviews.models import AccessRule, SystemKind
from services.reviews.systems import SystemSettings
from services.store import Store
from tests.access.builders import account
from tests.access.support import connected, make_app, principal, seed_snapshot
from tests.evidence.support import KEY

ORG = "org_incremental"
ADMIN = principal(ORG)
N = 60
ROLES = ("Engineer", "Sales", "Intern")
ACCESS_IDS = {c.id for c in CHECKS if c.source == "access"}


def accounts() -> list[Any]:
    rows = [
        account(f"acc-{i:03d}", email=f"user{i}@acme.test", admin=i % 7 == 0, mfa=i % 3 != 0)
        for i in range(N)
    ]
    rows.append(account("acc-app", type="app"))
    rows.append(account("acc-hidden"))
    return rows


def draft(i: int, *, role: str = "Engineer", left: datetime | None = None) -> PersonDraft:
    status = PersonStatus.OFFBOARDED if left else PersonStatus.ACTIVE
    return PersonDraft(f"user{i}@acme.test", f"User {i}", status, role, None, left)


async def setup(
    store: Store, *, evidence: bool = False
) -> tuple[Container, EvidenceRecorder | None]:
    app = make_app(store)
    recorder = None
    if evidence:
        service = EvidenceService(
            store.evidence,
            KEY,
            chunks=store.evidence_chunks,
            check_ids=lambda: {c.id for c in CHECKS},
        )
        recorder = EvidenceRecorder(
            service, integrations=store.integrations, check_exceptions=store.check_exceptions
        )
        app.engine.record_evidence = recorder
    integration = await connected(store, ORG)
    await seed_snapshot(store, integration, accounts(), "snap_inc_1")
    settings = SystemSettings(access_rule=AccessRule.ROLE_BASED, allowed_roles=("Engineer",))
    await app.services.systems.add(ADMIN, SystemKind.CONFLUENCE, settings)
    await app.services.people.upsert(ADMIN, [draft(i) for i in range(0, N, 2)])  # half the staff
    await app.reevaluator.settle()
    return app, recorder


async def versions(store: Store) -> dict[str, tuple[int, datetime]]:
    """Per check: the stored version and evaluation time of its latest result."""
    states = await store.check_results.states(organization_id=ORG)
    latest = {r.check_id: r for r in await store.check_results.list_latest(organization_id=ORG)}
    return {c: (states[c].version, latest[c].evaluated_at) for c in states}


async def test_a_people_change_evaluates_only_the_checks_that_read_people(store: Store) -> None:
    app, _ = await setup(store)
    before = await versions(store)
    assert set(before) == ACCESS_IDS
    resolved = app.services.identities.accounts_resolved
    left = datetime.now(UTC) - timedelta(days=2)
    await app.services.people.offboard(ADMIN, (await person_of(app, 4)).id, left)
    await app.reevaluator.settle()
    # One person: the rules were applied to that person's one account, not the snapshot.
    assert app.services.identities.accounts_resolved - resolved == 1
    after = await versions(store)
    unread = {UserIdentified.id, MfaEnabled.id, AccessReviewCompleted.id}  # no people input
    assert {c: after[c] for c in unread} == {c: before[c] for c in unread}  # not rewritten
    assert after[OffboardedAccessRemoved.id][0] == before[OffboardedAccessRemoved.id][0] + 1
    assert after[AccessValid.id][1] > before[AccessValid.id][1]  # evaluated (touched)
    # A manual identity decision does not re-evaluate the review check (it reads reviews).
    await app.services.identities.mark_not_staff(ADMIN, "acc-hidden", NotStaffKind.SHARED, "inbox")
    await app.reevaluator.settle()
    again = await versions(store)
    assert again[AccessReviewCompleted.id] == before[AccessReviewCompleted.id]
    assert again[UserIdentified.id][0] == before[UserIdentified.id][0] + 1


async def person_of(app: Container, i: int) -> Any:
    people = await app.directory.people(ORG)
    return next(p for p in people.values() if p.email == f"user{i}@acme.test")


async def test_random_people_changes_give_what_a_full_evaluation_gives(store: Store) -> None:
    rng = random.Random(1515)
    app, _ = await setup(store)
    for _ in range(12):
        i = rng.randrange(N + 4)  # a few people match no account
        role = rng.choice(ROLES)
        left = datetime.now(UTC) - timedelta(days=2) if rng.random() < 0.3 else None
        await app.services.people.upsert(ADMIN, [draft(i, role=role, left=left)])
        await app.reevaluator.settle()
        # A full resolution finds nothing the targeted one missed...
        full = make_app(store)
        assert await full.services.identities.resolve(ORG) == 0
        # ...and a full evaluation of the access checks nothing the scoped one missed.
        everything = await app.engine.evaluate(ORG, {"access"})
        missed = [e.result.check_id for e in everything if e.changed]
        assert missed == []


async def test_a_population_is_serialised_once_for_every_check_and_change(store: Store) -> None:
    app, recorder = await setup(store, evidence=True)
    assert recorder is not None
    texts = recorder.populations
    populations, items = texts.populations_chunked, texts.items_serialised
    # One identity changes and with it two checks (identified, valid: Sales has no access):
    # the accounts population is serialised once for both, and only the chunk holding the
    # changed account (here the whole population, N + 2 accounts, is one chunk).
    sales = await app.services.people.upsert(ADMIN, [draft(N + 1, role="Sales")])
    await app.services.identities.link(ADMIN, "acc-hidden", sales.people[0].id)
    await app.reevaluator.settle()
    latest = {r.check_id: r for r in await store.check_results.list_latest(organization_id=ORG)}
    assert "acc-hidden" not in {i.resource_id for i in latest[UserIdentified.id].failing_items}
    assert "acc-hidden" in {i.resource_id for i in latest[AccessValid.id].failing_items}
    assert (texts.populations_chunked, texts.items_serialised) == (populations + 1, items + N + 2)
    # Identities unchanged (an offboarding): the same population, nothing serialised again.
    left = datetime.now(UTC) - timedelta(days=2)
    await app.services.people.offboard(ADMIN, (await person_of(app, 6)).id, left)
    await app.reevaluator.settle()
    offboarded = await store.check_results.get_latest(
        organization_id=ORG, check_id=OffboardedAccessRemoved.id
    )
    assert offboarded is not None
    assert [i.resource_id for i in offboarded.failing_items] == ["acc-006"]
    assert (texts.populations_chunked, texts.items_serialised) == (populations + 1, items + N + 2)
    status = await parts_evidence(store)
    assert status.valid and status.checked_count >= 7


async def parts_evidence(store: Store) -> Any:
    service = EvidenceService(
        store.evidence, KEY, chunks=store.evidence_chunks, check_ids=lambda: {c.id for c in CHECKS}
    )
    return await service.verify(principal(ORG, Role.VIEWER))
