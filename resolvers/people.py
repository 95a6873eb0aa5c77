"""People: ``people`` query, ``upsertPeople`` and ``offboardPerson`` mutations."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from datetime import UTC, datetime
from typing import Annotated

import strawberry

from resolvers.context import Info, principal_of
from resolvers.errors import mutation
from resolvers.people_types import (
    OffboardPersonInput,
    PeoplePayload,
    PersonConnection,
    PersonFilter,
    PersonInput,
    PersonOrder,
    PersonPayload,
)
from resolvers.relay import INITIAL, After, First
from resolvers.snapshot_types import Person
from services.people.service import watch_people


@strawberry.type(description="Reads of the organization's people.")
class PeopleQuery:
    @strawberry.field(
        description="People of the organization, by email unless `orderBy` says otherwise "
        "(every role)."
    )
    async def people(
        self,
        info: Info,
        filter: Annotated[
            PersonFilter | None,
            strawberry.argument(description="Only people matching every given filter."),
        ] = None,
        first: First = None,
        after: After = None,
        order_by: Annotated[
            PersonOrder | None,
            strawberry.argument(
                description="The order; default by email, ascending. Cursors are only valid "
                "with the order that produced them."
            ),
        ] = None,
    ) -> PersonConnection:
        page = await info.context.services.people.list_people(
            principal_of(info),
            filter.to_domain() if filter else None,
            first,
            after,
            order_by.to_domain() if order_by else None,
        )
        return PersonConnection.of(page, after)

    @strawberry.field(description="One person of the organization, or null (every role).")
    async def person(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The person id.")],
    ) -> Person | None:
        found = await info.context.services.people.get(principal_of(info), str(id))
        return Person.from_domain(found) if found else None


@strawberry.type(description="Changes to people (ADMIN). Confluence never changes people.")
class PeopleMutation:
    @mutation(
        "Create or update people by email (ADMIN); all or nothing, at most "
        "50,000 at once. For files, `POST /people/import` takes a CSV."
    )
    async def upsert_people(
        self,
        info: Info,
        input: Annotated[
            list[PersonInput], strawberry.argument(description="The people, as HR states them.")
        ],
    ) -> PeoplePayload:
        summary = await info.context.services.people.upsert(
            principal_of(info), [p.to_draft() for p in input]
        )
        return PeoplePayload(
            people=[Person.from_domain(p) for p in summary.people],
            created=summary.created,
            updated=summary.updated,
            unchanged=summary.unchanged,
        )

    @mutation("Mark a person OFFBOARDED (ADMIN) at a time (default: now).")
    async def offboard_person(
        self,
        info: Info,
        input: Annotated[OffboardPersonInput, strawberry.argument(description="Who and when.")],
    ) -> PersonPayload:
        person = await info.context.services.people.offboard(
            principal_of(info), str(input.person_id), input.offboarded_at
        )
        return PersonPayload(person=Person.from_domain(person))


@strawberry.type(description="The organization's people changed: refetch what is shown.")
class PeopleChanged:
    total_count: int = strawberry.field(description="How many people the organization has now.")
    changed_at: datetime = strawberry.field(description="When the change was announced (UTC).")
    initial: bool = strawberry.field(
        description="True for the first message of `peopleChanged(initial: true)`: the "
        "subscription is live and this is the current count, not a change."
    )


@strawberry.type(description="Live people changes.")
class PeopleSubscription:
    @strawberry.subscription(
        description="Whenever people are created, updated or offboarded (GraphQL or CSV "
        "import), once per batch (every role); refetch `people` to see them."
    )
    async def people_changed(
        self,
        info: Info,
        initial: Annotated[
            bool,
            strawberry.argument(description=INITIAL.format(what="the current count")),
        ] = False,
    ) -> AsyncGenerator[PeopleChanged, None]:
        services = info.context.services
        counts = watch_people(services.bus, services.people, principal_of(info), initial=initial)
        async with aclosing(counts):
            async for total_count, first in counts:
                yield PeopleChanged(
                    total_count=total_count, changed_at=datetime.now(UTC), initial=first
                )
