"""People: ``people`` query, ``upsertPeople`` and ``offboardPerson`` mutations."""

from __future__ import annotations

from typing import Any

import strawberry

from resolvers.context import Context, principal_of
from resolvers.errors import user_errors
from resolvers.people_types import (
    OffboardPersonInput,
    PeoplePayload,
    Person,
    PersonConnection,
    PersonFilter,
    PersonInput,
    PersonPayload,
    people_errors,
)
from services.errors import DomainError
from services.people.validation import InvalidPeople


@strawberry.type
class PeopleQuery:
    """Reads of the organization's people."""

    @strawberry.field(description="People of the organization, by email.")
    async def people(
        self,
        info: strawberry.Info[Context, Any],
        filter: PersonFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> PersonConnection:
        page = await info.context.services.people.list_people(
            principal_of(info), filter.to_domain() if filter else None, first, after
        )
        return PersonConnection.of(page)

    @strawberry.field(description="One person of the organization.")
    async def person(self, info: strawberry.Info[Context, Any], id: strawberry.ID) -> Person | None:
        found = await info.context.services.people.get(principal_of(info), str(id))
        return Person.from_domain(found) if found else None


@strawberry.type
class PeopleMutation:
    """Changes to people (ADMIN). Confluence never changes people."""

    @strawberry.mutation(description="Create or update people by email; all or nothing.")
    async def upsert_people(
        self, info: strawberry.Info[Context, Any], input: list[PersonInput]
    ) -> PeoplePayload:
        try:
            summary = await info.context.services.people.upsert(
                principal_of(info), [p.to_draft() for p in input]
            )
        except InvalidPeople as exc:
            return PeoplePayload(user_errors=people_errors(exc))
        except DomainError as exc:
            return PeoplePayload(user_errors=user_errors(exc))
        return PeoplePayload(
            people=[Person.from_domain(p) for p in summary.people],
            created=summary.created,
            updated=summary.updated,
            unchanged=summary.unchanged,
        )

    @strawberry.mutation(description="Mark a person OFFBOARDED (default: now).")
    async def offboard_person(
        self, info: strawberry.Info[Context, Any], input: OffboardPersonInput
    ) -> PersonPayload:
        try:
            person = await info.context.services.people.offboard(
                principal_of(info), str(input.person_id), input.offboarded_at
            )
        except InvalidPeople as exc:
            return PersonPayload(user_errors=people_errors(exc))
        except DomainError as exc:
            return PersonPayload(user_errors=user_errors(exc))
        return PersonPayload(person=Person.from_domain(person))
