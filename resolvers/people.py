"""People: ``people`` query, ``upsertPeople`` and ``offboardPerson`` mutations."""

from __future__ import annotations

from typing import Annotated, Any

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
from resolvers.relay import After, First
from services.errors import DomainError
from services.people.validation import InvalidPeople


@strawberry.type(description="Reads of the organization's people.")
class PeopleQuery:
    @strawberry.field(description="People of the organization, by email (every role).")
    async def people(
        self,
        info: strawberry.Info[Context, Any],
        filter: Annotated[
            PersonFilter | None,
            strawberry.argument(description="Only people matching every given filter."),
        ] = None,
        first: First = None,
        after: After = None,
    ) -> PersonConnection:
        page = await info.context.services.people.list_people(
            principal_of(info), filter.to_domain() if filter else None, first, after
        )
        return PersonConnection.of(page, after)

    @strawberry.field(description="One person of the organization, or null (every role).")
    async def person(
        self,
        info: strawberry.Info[Context, Any],
        id: Annotated[strawberry.ID, strawberry.argument(description="The person id.")],
    ) -> Person | None:
        found = await info.context.services.people.get(principal_of(info), str(id))
        return Person.from_domain(found) if found else None


@strawberry.type(description="Changes to people (ADMIN). Confluence never changes people.")
class PeopleMutation:
    @strawberry.mutation(
        description="Create or update people by email (ADMIN); all or nothing, at most "
        "50,000 at once. For files, `POST /people/import` takes a CSV."
    )
    async def upsert_people(
        self,
        info: strawberry.Info[Context, Any],
        input: Annotated[
            list[PersonInput], strawberry.argument(description="The people, as HR states them.")
        ],
    ) -> PeoplePayload:
        try:
            summary = await info.context.services.people.upsert(
                principal_of(info), [p.to_draft() for p in input]
            )
        except InvalidPeople as exc:
            return PeoplePayload(user_errors=people_errors(exc))
        except DomainError as exc:
            return PeoplePayload(user_errors=user_errors(exc, info))
        return PeoplePayload(
            people=[Person.from_domain(p) for p in summary.people],
            created=summary.created,
            updated=summary.updated,
            unchanged=summary.unchanged,
        )

    @strawberry.mutation(description="Mark a person OFFBOARDED (ADMIN) at a time (default: now).")
    async def offboard_person(
        self,
        info: strawberry.Info[Context, Any],
        input: Annotated[OffboardPersonInput, strawberry.argument(description="Who and when.")],
    ) -> PersonPayload:
        try:
            person = await info.context.services.people.offboard(
                principal_of(info), str(input.person_id), input.offboarded_at
            )
        except InvalidPeople as exc:
            return PersonPayload(user_errors=people_errors(exc))
        except DomainError as exc:
            return PersonPayload(user_errors=user_errors(exc, info))
        return PersonPayload(person=Person.from_domain(person))
