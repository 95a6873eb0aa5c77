"""People: upsert by email, offboarding, listing and CSV import (SPEC §4).

Writes are whole-batch: everything is validated before anything is stored, and people
that would not change are not written. After any change the organization's identities are
resolved again for the people written and their checks re-evaluated (``on_people_changed``,
told the ids of the people written).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass
from datetime import datetime, timedelta
from typing import Protocol

from services.api_keys import require_role
from services.clock import Clock, utc_ms, utcnow
from services.errors import Conflict, NotFound, ValidationFailed
from services.events import EventBus, subscribe_now, topic_for
from services.models import Principal, Role
from services.paging import Slice, check_filter_texts, decode_cursor, make_slice, page_size
from services.people.csv_import import parse_people_csv
from services.people.models import (
    Person,
    PersonFilter,
    PersonKey,
    PersonRecord,
    PersonSort,
    PersonSortField,
    PersonStatus,
    UpsertSummary,
    person_id,
)
from services.people.validation import PersonDraft, check_batch

#: How far in the future an offboarding time may be: the caller's clock may run ahead.
CLOCK_SKEW = timedelta(minutes=5)


#: Bus channel announcing that an organization's people changed (``peopleChanged``).
PEOPLE_CHANNEL = "people"

OnPeopleChange = Callable[[str, frozenset[str]], Awaitable[None]]
"""Told ``(organization_id, ids of the people written)`` after a change (identities are
resolved again for those people only)."""


async def ignore_people_change(organization_id: str, person_ids: frozenset[str]) -> None:
    """The default: nobody needs to know."""


class PeopleCache(Protocol):
    """The organization's people as the identity directory caches them (``Directory``)."""

    async def people(self, organization_id: str) -> Mapping[str, Person]:
        """The organization's people by id."""

    def people_written(
        self, organization_id: str, written: Iterable[tuple[int, Person]], first: int
    ) -> None:
        """Tell the cache about people this process just wrote."""


class PeopleRepo(Protocol):
    """The ``PeopleRepository`` methods ``PeopleService`` calls."""

    async def get(self, *, organization_id: str, person_id: str) -> Person | None: ...
    async def list_people(
        self,
        *,
        organization_id: str,
        filter: PersonFilter,
        limit: int,
        after: PersonKey | None,
        sort: PersonSort | None = None,
    ) -> tuple[list[Person], int]: ...
    async def write(
        self,
        *,
        organization_id: str,
        records: Sequence[PersonRecord],
        existing: Mapping[str, Person],
    ) -> list[tuple[int, Person]]: ...


@dataclass(eq=False, repr=False)
class PeopleService:
    """The organization's workforce as HR states it; Confluence never changes it."""

    directory: PeopleCache
    _: KW_ONLY
    people: PeopleRepo
    on_people_changed: OnPeopleChange = ignore_people_change
    clock: Clock = utcnow

    async def upsert(self, principal: Principal, drafts: Sequence[PersonDraft]) -> UpsertSummary:
        """Create or update people by email, case-insensitively (ADMIN; all or nothing)."""
        require_role(principal, Role.ADMIN)
        records = check_batch(list(enumerate(drafts)))
        return await self._apply(principal.organization_id, records)

    async def import_csv(self, principal: Principal, data: bytes) -> UpsertSummary:
        """Import a people CSV (ADMIN); a file with any invalid row is rejected whole."""
        require_role(principal, Role.ADMIN)
        records = parse_people_csv(data)
        return await self._apply(principal.organization_id, records)

    async def offboard(
        self, principal: Principal, person_id: str, offboarded_at: datetime | None
    ) -> Person:
        """Mark a person OFFBOARDED at ``offboarded_at`` (default now) (ADMIN).

        ``offboarded_at`` must carry a UTC offset and may not be in the future (beyond
        ``CLOCK_SKEW``). A person already offboarded keeps their date: the same date again
        changes nothing, another is refused (``ALREADY_OFFBOARDED``; ``upsert`` corrects it).
        """
        require_role(principal, Role.ADMIN)
        now = self.clock()
        if offboarded_at is not None:
            _check_offboarding_time(offboarded_at, now)
        person = await self.get(principal, person_id)
        if person is None:
            raise NotFound(f"person {person_id} not found", field=["input", "personId"])
        if person.status is PersonStatus.OFFBOARDED and person.offboarded_at is not None:
            if offboarded_at is not None and utc_ms(offboarded_at) == person.offboarded_at:
                return person
            raise Conflict(
                f"person {person_id} was already offboarded at "
                f"{person.offboarded_at.isoformat()}; offboarding again does not move that "
                "date (to correct it, send the person with its offboardedAt to upsertPeople)",
                field=["input", "personId"],
                code="ALREADY_OFFBOARDED",
            )
        draft = PersonDraft(
            email=person.email,
            name=person.name,
            status=PersonStatus.OFFBOARDED,
            job_role=person.job_role,
            start_date=person.start_date,
            offboarded_at=offboarded_at or now,
        )
        summary = await self._apply(principal.organization_id, check_batch([(0, draft)]))
        return summary.people[0]

    async def get(self, principal: Principal, person_id: str) -> Person | None:
        """One person of the caller's organization."""
        return await self.people.get(organization_id=principal.organization_id, person_id=person_id)

    async def list_people(
        self,
        principal: Principal,
        filter: PersonFilter | None,
        first: int | None,
        after: str | None,
        sort: PersonSort | None = None,
    ) -> Slice[Person]:
        """People of the caller's organization, by email unless ``sort`` says otherwise."""
        filter = filter or PersonFilter()
        sort = sort or PersonSort()
        check_filter_texts(filter, ("job_role", "search"))
        limit = page_size(first)
        rows, total = await self.people.list_people(
            organization_id=principal.organization_id,
            filter=filter,
            limit=limit + 1,
            after=await self._key_after(principal, after, sort),
            sort=sort,
        )
        # The cursor names the person by id: an email would sit in URLs and logs.
        return make_slice(rows, limit=limit, total=total, key=lambda p: p.id)

    async def _key_after(
        self, principal: Principal, after: str | None, sort: PersonSort
    ) -> PersonKey | None:
        """The sort values of the person a cursor names; a bad cursor is refused."""
        person_id = decode_cursor(after)
        if person_id is None:
            return None
        person = await self.get(principal, person_id)
        if person is None:
            raise ValidationFailed("after is not a valid cursor", field=["after"])
        value = person.updated_at if sort.field is PersonSortField.UPDATED_AT else None
        return PersonKey(value=value, email_key=person.email_key)

    async def _apply(self, organization_id: str, records: Sequence[PersonRecord]) -> UpsertSummary:
        existing = await self.directory.people(organization_id)
        changed: list[PersonRecord] = []
        unchanged: dict[str, Person] = {}
        for record in records:
            pid = person_id(organization_id, record.email)
            before = existing.get(pid)
            if before is not None and before.same_as(record):
                unchanged[pid] = before
            else:
                changed.append(record)
        written = await self.people.write(
            organization_id=organization_id, records=changed, existing=existing
        )
        if written:
            self.directory.people_written(organization_id, written, written[0][0])
            await self.on_people_changed(organization_id, frozenset(p.id for _, p in written))
        stored = {p.id: p for _, p in written} | unchanged
        created = sum(1 for _, p in written if p.id not in existing)
        people = tuple(stored[person_id(organization_id, r.email)] for r in records)
        return UpsertSummary(
            people=people,
            created=created,
            updated=len(written) - created,
            unchanged=len(records) - len(written),
        )


def _check_offboarding_time(offboarded_at: datetime, now: datetime) -> None:
    """An offboarding time is a moment in the past, with its UTC offset."""
    field = ["input", "offboardedAt"]
    if offboarded_at.tzinfo is None or offboarded_at.utcoffset() is None:
        raise ValidationFailed(
            "offboardedAt needs a UTC offset (e.g. 2026-05-01T17:00:00Z or "
            "2026-05-01T19:00:00+02:00): without one the moment is ambiguous",
            field=field,
        )
    if offboarded_at - now > CLOCK_SKEW:
        raise ValidationFailed(
            f"offboardedAt {offboarded_at.isoformat()} is in the future: offboard a person "
            "once they have left (the offboarding checks count their grace period from "
            "offboardedAt)",
            field=field,
        )


# A function, not a method: the service holds no bus (the composition root publishes
# its changes on the channel).
async def watch_people(
    bus: EventBus, people: PeopleService, principal: Principal, *, initial: bool = False
) -> AsyncGenerator[tuple[int, bool], None]:
    """After every change of the organization's people from now on: how many it has (and
    False). ``initial``: first how many it has once subscribed (and True)."""
    events = await subscribe_now(bus, topic_for(principal.organization_id, PEOPLE_CHANNEL))
    try:
        if initial:
            yield (await people.list_people(principal, None, 1, None)).total_count, True
        async for _ in events:
            page = await people.list_people(principal, None, 1, None)
            yield page.total_count, False
    finally:
        await events.aclose()
