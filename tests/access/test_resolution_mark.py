"""The stored resolution mark (ADR 005): a process that never resolved the current snapshot
resolves a people change for that person's accounts only when the store says the snapshot
was resolved against every person written before — and people written since the mark (a
writer that died before resolving them) are resolved with the next change, in any process."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.identity.models import Classification, ResolutionMark
from services.integrations.models import Integration
from services.people.models import PersonRecord, PersonStatus
from services.store import Store
from tests.access.builders import account
from tests.access.support import connected, make_app, principal, seed_snapshot
from tests.access.test_incremental import draft

ORG = "org_mark"
ADMIN = principal(ORG)
N = 40
ACCOUNTS = [account(f"acc-{i:03d}", email=f"user{i}@acme.test") for i in range(N)]


async def setup(store: Store) -> Integration:
    """A snapshot, and half the staff as people, resolved by a first process."""
    first = make_app(store)
    integration = await connected(store, ORG)
    await seed_snapshot(store, integration, ACCOUNTS, "snap_mark_1")
    await first.services.people.upsert(ADMIN, [draft(i) for i in range(0, N, 2)])
    await first.reevaluator.settle()
    return integration


async def person_id(store: Store, i: int) -> str:
    people = await make_app(store).directory.people(ORG)
    return next(p.id for p in people.values() if p.email == f"user{i}@acme.test")


async def classification(store: Store, account_id: str) -> Classification | None:
    identity = await store.identities.get(organization_id=ORG, account_id=account_id)
    return None if identity is None else identity.classification


async def test_a_new_process_resolves_only_the_changed_persons_accounts(store: Store) -> None:
    await setup(store)
    mark = await store.identities.resolution_mark(organization_id=ORG)
    assert mark is not None and mark.snapshot_id == "snap_mark_1"
    second = make_app(store)  # a new process: it never resolved this snapshot
    left = datetime.now(UTC) - timedelta(days=2)
    await second.services.people.offboard(ADMIN, await person_id(store, 4), left)
    assert second.services.identities.accounts_resolved == 1  # not the snapshot's 40


async def test_people_written_without_their_resolution_are_resolved_by_the_next_change(
    store: Store,
) -> None:
    await setup(store)
    # A writer that died after writing user3 and before resolving: the identity is missing.
    record = PersonRecord("user3@acme.test", "User 3", PersonStatus.ACTIVE, "Engineer", None, None)
    await store.people.write(organization_id=ORG, records=[record], existing={})
    assert await classification(store, "acc-003") is None
    other = make_app(store)
    await other.services.people.upsert(ADMIN, [draft(5)])  # another person, another process
    assert await classification(store, "acc-003") is Classification.STAFF
    assert await classification(store, "acc-005") is Classification.STAFF
    assert other.services.identities.accounts_resolved == 2


async def test_a_snapshot_without_a_mark_is_resolved_whole(store: Store) -> None:
    integration = await setup(store)
    # Committed elsewhere, its resolution never ran: no mark names it.
    await seed_snapshot(store, integration, ACCOUNTS, "snap_mark_2")
    other = make_app(store)
    await other.services.people.upsert(ADMIN, [draft(7)])
    assert other.services.identities.accounts_resolved == N
    mark = await store.identities.resolution_mark(organization_id=ORG)
    assert mark is not None and mark.snapshot_id == "snap_mark_2"


async def test_no_mark_moves_while_a_people_writer_is_at_work(store: Store) -> None:
    await setup(store)
    before = await store.identities.resolution_mark(organization_id=ORG)
    assert before is not None
    # a writer reserved numbers and has not written them: they may be missing from the maps
    await store.revisions.reserve(organization_id=ORG, name="people")
    await make_app(store).services.identities.resolve(ORG)
    assert await store.identities.resolution_mark(organization_id=ORG) == before


async def test_of_one_snapshot_the_furthest_mark_wins(store: Store) -> None:
    marks = store.identities
    await marks.mark_resolved(organization_id=ORG, mark=ResolutionMark("s1", 9))
    await marks.mark_resolved(organization_id=ORG, mark=ResolutionMark("s1", 4))  # a late one
    assert await marks.resolution_mark(organization_id=ORG) == ResolutionMark("s1", 9)
    await marks.mark_resolved(organization_id=ORG, mark=ResolutionMark("s2", 2))
    assert await marks.resolution_mark(organization_id=ORG) == ResolutionMark("s2", 2)
