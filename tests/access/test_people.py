"""People (SPEC §4): idempotent upsert by email, all-or-nothing validation, offboarding,
listing; the revisioned cache across "processes". Both stores."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from services.errors import Conflict, Forbidden, NotFound, ValidationFailed
from services.models import Role
from services.people.models import PersonFilter, PersonStatus
from services.people.validation import InvalidPeople, PersonDraft
from services.store import Store
from tests.access.support import make_app, principal

ORG = "org_people"
ADMIN = principal(ORG)


def draft(email: str, **fields: object) -> PersonDraft:
    values: dict[str, object] = {
        "name": email.split("@")[0].title(),
        "status": PersonStatus.ACTIVE,
        "job_role": "Engineer",
        "start_date": date(2024, 1, 2),
        "offboarded_at": None,
    }
    values.update(fields)
    return PersonDraft(email=email, **values)  # type: ignore[arg-type]


async def test_upsert_is_idempotent_by_case_insensitive_email(store: Store) -> None:
    app = make_app(store)
    first = await app.services.people.upsert(
        ADMIN, [draft("Ann@Acme.test"), draft("bob@acme.test")]
    )
    assert (first.created, first.updated, first.unchanged) == (2, 0, 0)
    again = await app.services.people.upsert(ADMIN, [draft("Ann@Acme.test")])
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
    changed = await app.services.people.upsert(ADMIN, [draft("ann@acme.test", job_role="IT")])
    assert (changed.created, changed.updated) == (0, 1)
    assert changed.people[0].id == first.people[0].id
    assert changed.people[0].job_role == "IT" and changed.people[0].email == "ann@acme.test"
    page = await app.services.people.list_people(ADMIN, None, None, None)
    assert page.total_count == 2


async def test_a_batch_with_any_bad_row_changes_nothing(store: Store) -> None:
    app = make_app(store)
    bad = [
        draft("ok@acme.test"),
        draft("not-an-email"),
        draft("gone@acme.test", status=PersonStatus.OFFBOARDED),
        draft("OK@acme.test"),
        draft("here@acme.test", offboarded_at=datetime(2025, 1, 1, tzinfo=UTC)),
    ]
    with pytest.raises(InvalidPeople) as caught:
        await app.services.people.upsert(ADMIN, bad)
    problems = {(p.row, p.field) for p in caught.value.problems}
    assert problems == {(1, "email"), (2, "offboarded_at"), (3, "email"), (4, "offboarded_at")}
    assert (await app.services.people.list_people(ADMIN, None, None, None)).total_count == 0


async def test_offboard_and_roles(store: Store) -> None:
    app = make_app(store)
    person = (await app.services.people.upsert(ADMIN, [draft("ann@acme.test")])).people[0]
    at = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    gone = await app.services.people.offboard(ADMIN, person.id, at)
    assert gone.status is PersonStatus.OFFBOARDED and gone.offboarded_at == at
    assert (await app.services.people.get(ADMIN, person.id)) == gone
    with pytest.raises(NotFound):
        await app.services.people.offboard(ADMIN, "per_missing", at)
    with pytest.raises(Forbidden):
        await app.services.people.offboard(principal(ORG, Role.REVIEWER), person.id, at)
    with pytest.raises(Forbidden):
        await app.services.people.upsert(principal(ORG, Role.VIEWER), [draft("x@acme.test")])
    other_org = principal("org_other")
    assert await app.services.people.get(other_org, person.id) is None


async def test_offboarding_refuses_future_and_offsetless_times_and_a_second_date(
    store: Store,
) -> None:
    app = make_app(store)
    people = app.services.people
    ann, bob = (await people.upsert(ADMIN, [draft("ann@acme.test"), draft("bob@acme.test")])).people
    now = datetime.now(UTC)
    for when, words in (
        (now + timedelta(days=1), "in the future"),
        (datetime(2026, 3, 1, 9, 30), "UTC offset"),  # no offset: ambiguous
    ):
        with pytest.raises(ValidationFailed) as refused:
            await people.offboard(ADMIN, ann.id, when)
        assert refused.value.field == ["input", "offboardedAt"] and words in refused.value.message
    assert (await people.get(ADMIN, ann.id)) == ann  # nothing changed
    # A caller's clock a little ahead is not the future; an offset other than UTC is fine.
    skewed = await people.offboard(ADMIN, ann.id, now + timedelta(minutes=1))
    assert skewed.offboarded_at is not None
    plus_two = datetime(2026, 3, 1, 11, 30, tzinfo=timezone(timedelta(hours=2)))
    gone = await people.offboard(ADMIN, bob.id, plus_two)
    assert gone.offboarded_at == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    # Offboarding again: the same time is a no-op, another time is refused.
    assert await people.offboard(ADMIN, bob.id, plus_two) == gone
    for again in (None, datetime(2026, 3, 2, tzinfo=UTC)):
        with pytest.raises(Conflict) as twice:
            await people.offboard(ADMIN, bob.id, again)
        assert twice.value.code == "ALREADY_OFFBOARDED" and twice.value.field == [
            "input",
            "personId",
        ]
    assert (await people.get(ADMIN, bob.id)) == gone


async def test_list_filters_and_pages(store: Store) -> None:
    app = make_app(store)
    emails = ["a@acme.test", "b@acme.test", "c@acme.test", "d@acme.test"]
    await app.services.people.upsert(
        ADMIN, [draft(e, job_role="Sales" if e < "c" else "IT") for e in emails]
    )
    await app.services.people.offboard(
        ADMIN, (await app.services.people.list_people(ADMIN, None, 1, None)).items[0][1].id, None
    )
    first = await app.services.people.list_people(ADMIN, None, 3, None)
    assert [p.email for _, p in first.items] == emails[:3] and first.has_next_page
    rest = await app.services.people.list_people(ADMIN, None, 3, first.end_cursor)
    assert [p.email for _, p in rest.items] == emails[3:] and not rest.has_next_page
    offboarded = await app.services.people.list_people(
        ADMIN, PersonFilter(status=PersonStatus.OFFBOARDED), None, None
    )
    assert [p.email for _, p in offboarded.items] == ["a@acme.test"]
    sales = await app.services.people.list_people(ADMIN, PersonFilter(job_role="sales"), None, None)
    assert sales.total_count == 2
    search = await app.services.people.list_people(ADMIN, PersonFilter(search="C@ACME"), None, None)
    assert [p.email for _, p in search.items] == ["c@acme.test"]


async def test_the_cache_sees_writes_of_other_processes(store: Store) -> None:
    here, there = make_app(store), make_app(store)
    await here.services.people.upsert(ADMIN, [draft("ann@acme.test")])
    assert {p.email for p in (await there.directory.people(ORG)).values()} == {"ann@acme.test"}
    await there.services.people.upsert(
        ADMIN, [draft("bob@acme.test"), draft("ann@acme.test", name="A")]
    )
    seen = {p.email: p.name for p in (await here.directory.people(ORG)).values()}
    assert seen == {"ann@acme.test": "A", "bob@acme.test": "Bob"}
    assert await here.directory.people("org_other") == {}
