"""Per-account evaluation through the services (issue 24): after random one-account changes
the stored results, their item lists and their evidence equal what a full evaluation from
scratch gives, only the accounts a change touched are judged again, and a one-account change
writes a bounded number of documents whatever the population. Both stores."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from api.container import Container
from services.checks.access.data import ACCESS
from services.checks.access.judged import JudgedCheck
from services.checks.models import CheckResult
from services.checks.registry import CHECKS
from services.chunking import Chunker, content_cut
from services.evidence.chunks import LIST_PATHS, chunk_values
from services.identity.models import NotStaffKind
from services.people.models import PersonStatus, person_id
from services.people.validation import PersonDraft
from services.reviews.models import AccessRule, SystemKind
from services.reviews.systems import SystemChanges, SystemSettings
from services.store import Store
from services.store.check_results import MAX_CHUNK_CHARS, MAX_CHUNK_ITEMS, TARGET_CHUNK_CHARS
from testkit import access_scale
from tests.access.builders import account
from tests.access.support import connected, make_app, principal, seed_snapshot

ORG = "org_per_account"
ADMIN = principal(ORG)
N = 70
ROLES = ("Engineer", "Sales", "Manager")
JUDGED = [c for c in CHECKS if isinstance(c, JudgedCheck)]


def accounts() -> list[Any]:
    rows = [
        account(
            f"acc-{i:03d}",
            email=f"user{i}@acme.test" if i % 13 else None,
            admin=i % 7 == 0,
            mfa=(True, False, None)[i % 3],
            access=("group", "direct", "none")[i % 11 % 3],
            status="inactive" if i % 17 == 0 else "active",
        )
        for i in range(N)
    ]
    return [*rows, account("acc-app", type="app")]


def draft(i: int, *, role: str = "Engineer", left: datetime | None = None) -> PersonDraft:
    status = PersonStatus.OFFBOARDED if left else PersonStatus.ACTIVE
    return PersonDraft(f"user{i}@acme.test", f"User {i}", status, role, None, left)


async def change_one(
    rng: random.Random, app: Container, system_id: str, *, rule: bool = False
) -> set[str] | None:
    """One random change through the services: an identity or a person; or the rule.
    The accounts it names: the account, or the accounts linked to the person (before); None
    for the rule."""
    services, pick = app.services, rng.random()
    target = f"acc-{rng.randrange(N):03d}"
    people = await app.directory.people(ORG)
    identities = await app.directory.identities(ORG)

    def of(person_id: str) -> set[str]:
        return {a for a, i in identities.items() if i.person_id == person_id}

    if rule:  # another rule: every account is judged again (a new lineage)
        allowed = tuple(rng.sample(ROLES, 2))
        await services.systems.update(ADMIN, system_id, SystemChanges(allowed_roles=allowed))
        return None
    if pick < 0.2 and people:
        person = rng.choice(sorted(people.values(), key=lambda p: p.id))
        await services.identities.link(ADMIN, target, person.id)
        return {target}
    if pick < 0.3:
        await services.identities.mark_not_staff(ADMIN, target, NotStaffKind.SERVICE, "a bot")
        return {target}
    if pick < 0.4:
        await services.identities.clear(ADMIN, target)
        return {target}
    if pick < 0.75:
        left = datetime.now(UTC) - timedelta(days=2) if rng.random() < 0.4 else None
        i = rng.randrange(N + 3)
        await services.people.upsert(ADMIN, [draft(i, role=rng.choice(ROLES), left=left)])
        return of(person_id(ORG, f"user{i}@acme.test"))
    person = rng.choice(sorted(people.values(), key=lambda p: p.id))
    await services.people.offboard(ADMIN, person.id, datetime.now(UTC) - timedelta(days=2))
    return of(person.id)


async def inputs(app: Container) -> dict[str, tuple[Any, Any]]:
    """Each account's inputs besides the snapshot and rule: its identity and its person."""
    identities = await app.directory.identities(ORG)
    people = await app.directory.people(ORG)
    return {a: (i, people.get(i.person_id) if i.person_id else None) for a, i in identities.items()}


def item_addresses(items: Any) -> list[str]:
    """The chunks a from-scratch cutting of a result's items gives (the store's rule)."""

    def text(item: Any) -> str:
        return json.dumps(item.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    chunker = Chunker(
        text,
        cut=content_cut(TARGET_CHUNK_CHARS),
        max_chars=MAX_CHUNK_CHARS,
        max_count=MAX_CHUNK_ITEMS,
    )
    return [p.sha256 for p in chunker.cut(items).pieces]


async def assert_items_as_from_scratch(store: Store, result: CheckResult) -> None:
    """The stored item chunks of ``result`` are those a full cut of its items gives."""
    header = await store._db["check_results"].find_one({"_id": f"{ORG}:{result.check_id}"})
    if result.failing_items:
        manifest = await store._db["check_items"].find_one({"_id": header["failing_list"]})
        assert [sha for sha, _ in manifest["chunks"]] == item_addresses(result.failing_items)


async def assert_evidence_as_from_scratch(store: Store, app: Container) -> int:
    """Every list of every evidence record is the one a from-scratch chunking of its values
    gives (the recorder re-cut only what changed, and that equals cutting it all). How many
    lists were compared."""
    compared = 0
    async for record in store.evidence.iter_chain(organization_id=ORG):
        body = record.content()
        expanded = await app.services.evidence.expanded(ADMIN, record)
        for parent, name in LIST_PATHS:
            ref = body.get(parent, {}).get(name)
            if isinstance(ref, dict):
                assert ref["root"] == chunk_values(expanded[parent][name]).root, record.sequence
                compared += 1
    return compared


async def test_random_one_account_changes_give_what_a_full_evaluation_gives(store: Store) -> None:
    rng = random.Random(2424)
    app = make_app(store)
    integration = await connected(store, ORG)
    await seed_snapshot(store, integration, accounts(), "snap_per_account")
    settings = SystemSettings(
        access_rule=AccessRule.ROLE_BASED, allowed_roles=("Engineer",), admin_roles=("Manager",)
    )
    system = await app.services.systems.add(ADMIN, SystemKind.CONFLUENCE, settings)
    await app.services.people.upsert(
        ADMIN, [draft(i, role=rng.choice(ROLES)) for i in range(0, N, 2)]
    )
    await app.reevaluator.settle()
    # per check: the accounts changes touched since it was last evaluated (a check that
    # reads only identities is not evaluated after a change of people, and judges the
    # accounts of every change since its last evaluation the next time)
    pending: dict[str, set[str]] = {c.id: set() for c in JUDGED}
    for step in range(24):
        before = await inputs(app)
        versions = {c.id: getattr(app.engine.held(ORG, c.id), "version", None) for c in JUDGED}
        named = await change_one(rng, app, system.id, rule=step in (8, 16))
        await app.reevaluator.settle()
        after = await inputs(app)
        # the accounts whose identity or person changed, and those the change wrote to
        # (a write of an equal value is a change to the store's caches)
        touched = (named or set()) | {
            a for a in after.keys() | before.keys() if before.get(a) != after.get(a)
        }
        for check in JUDGED:  # what the changes touched was judged, not the population
            pending[check.id] |= touched
            held = app.engine.held(ORG, check.id)
            if held is None or held.version == versions[check.id]:
                continue  # not evaluated again (it reads nothing the change touched)
            since, pending[check.id] = pending[check.id], set()
            if named is None:  # another rule: a new lineage, every account judged
                assert held.judged == N + 1, (step, check.id)
            else:  # what the changes since touched, never the population
                assert held.judged <= len(since) < N + 1, (step, check.id, since)
        # A full evaluation from scratch (a new process: new caches, nothing held) finds
        # every stored result as it would have recorded it.
        fresh = make_app(store)
        changed = [e.check.id for e in await fresh.engine.evaluate(ORG, {ACCESS}) if e.changed]
        assert changed == [], step
    for result in await store.check_results.list_latest(organization_id=ORG):
        await assert_items_as_from_scratch(store, result)
    assert await assert_evidence_as_from_scratch(store, app) > 24


async def test_a_one_account_change_writes_a_bounded_number_of_documents(store: Store) -> None:
    n = 20_000 if store.embedded else 2_000  # the wire server is slower to seed
    now = datetime.now(UTC)
    seeded = await access_scale.seed(store, ORG, n, now)
    app = make_app(store)
    app.reevaluator.request(ORG, (ACCESS,))
    await app.reevaluator.settle()  # everything recorded, over the whole population
    identified = await store.check_results.get_latest(
        organization_id=ORG, check_id="confluence-user-identified"
    )
    assert identified is not None and len(identified.failing_items) == n // 10

    costs = {}
    unidentified = access_scale.account_id(9)
    person = (await app.directory.identities(ORG))[access_scale.account_id(1)].person_id
    before = Counter(store.guard.written)
    await app.services.identities.link(ADMIN, unidentified, person or "")
    await app.reevaluator.settle()
    costs["linkAccount"] = Counter(store.guard.written) - before
    before = Counter(store.guard.written)
    await app.services.people.offboard(ADMIN, person or "", now - timedelta(days=2))
    await app.reevaluator.settle()
    costs["offboardPerson"] = Counter(store.guard.written) - before

    identified = await store.check_results.get_latest(
        organization_id=ORG, check_id="confluence-user-identified"
    )
    assert identified is not None and unidentified not in {
        i.resource_id for i in identified.failing_items
    }
    offboarded = await store.check_results.get_latest(
        organization_id=ORG, check_id="confluence-offboarded-access-removed"
    )
    assert offboarded is not None
    assert {access_scale.account_id(1), unidentified} <= {
        i.resource_id for i in offboarded.failing_items
    }
    for what, written in costs.items():
        # The result headers, history, a chunk or two and a manifest per changed list, the
        # evidence records and their new chunks: a few dozen documents at any size.
        print(
            f"{what} at {n:,} accounts ({seeded.people:,} people): {sum(written.values())} documents {dict(written)}"
        )
        assert sum(written.values()) <= 60, (what, written)
        assert written["check_items"] <= 12 and written["evidence_chunks"] <= 16, (what, written)
