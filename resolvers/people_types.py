"""GraphQL types of people (SPEC §4, §7). ``Person`` itself is in ``snapshot_types`` beside
``Account``: each refers to the other (``Person.accounts``, ``AccountIdentity.person``)."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum

import strawberry

from resolvers.enums import graphql_enum
from resolvers.errors import UserError, payload, result_field
from resolvers.mapping import mapped
from resolvers.relay import USER_ERRORS, Connection, Edge
from resolvers.snapshot_types import Person
from services.paging import Slice
from services.people import models
from services.people.models import PersonSortField, PersonStatus
from services.people.validation import PersonDraft


@strawberry.input(
    description="A person as HR states it; `email` identifies them (case-insensitively)."
)
class PersonInput:
    email: str = strawberry.field(description="Work email (at most 254 characters).")
    name: str | None = strawberry.field(
        default=None, description="Full name (at most 200 characters)."
    )
    status: PersonStatus = strawberry.field(
        default=PersonStatus.ACTIVE, description="Default ACTIVE."
    )
    job_role: str | None = strawberry.field(
        default=None, description="Job role (at most 100 characters)."
    )
    start_date: date | None = strawberry.field(default=None, description="First working day.")
    offboarded_at: datetime | None = strawberry.field(
        default=None, description="Required when OFFBOARDED; must be null when ACTIVE."
    )

    def to_draft(self) -> PersonDraft:
        """The service-layer draft."""
        return mapped(PersonDraft, self)


@strawberry.input(description="Offboard a person at `offboardedAt` (default: now).")
class OffboardPersonInput:
    person_id: strawberry.ID = strawberry.field(description="The person.")
    offboarded_at: datetime | None = strawberry.field(
        default=None, description="When they left; default now."
    )


@strawberry.input(description="Filters of `people`: every given filter must match.")
class PersonFilter:
    status: PersonStatus | None = strawberry.field(
        default=None, description="Only people with this status."
    )
    job_role: str | None = strawberry.field(
        default=None, description="Only people with exactly this job role (at most 200 chars)."
    )
    search: str | None = strawberry.field(
        default=None,
        description="Case-insensitive substring of email or name (at most 200 characters).",
    )

    def to_domain(self) -> models.PersonFilter:
        """The service-layer filter."""
        return mapped(models.PersonFilter, self)


@strawberry.enum(description="The direction of an ordering.")
class OrderDirection(Enum):
    ASC = strawberry.enum_value("ASC", description="Smallest (or oldest, or A) first.")
    DESC = strawberry.enum_value("DESC", description="Largest (or newest, or Z) first.")


graphql_enum(
    PersonSortField,
    name="PersonOrderField",
    description="What `people` can be ordered by.",
    values={
        PersonSortField.EMAIL: "Email, case-insensitively.",
        PersonSortField.UPDATED_AT: "When the record last changed (ties by email).",
    },
)


@strawberry.input(description="The order of `people`; default by email, ascending.")
class PersonOrder:
    field: PersonSortField = strawberry.field(
        default=PersonSortField.EMAIL, description="What to order by; default EMAIL."
    )
    direction: OrderDirection = strawberry.field(
        default=OrderDirection.ASC, description="Default ASC."
    )

    def to_domain(self) -> models.PersonSort:
        """The service-layer sort."""
        return models.PersonSort(
            field=self.field,
            descending=self.direction is OrderDirection.DESC,
        )


@strawberry.type(description="A person and its cursor.")
class PersonEdge(Edge[Person]):
    node: Person = strawberry.field(description="The person.")


@strawberry.type(description="People, by email unless ordered otherwise.")
class PersonConnection(Connection[PersonEdge]):
    @classmethod
    def of(cls, page: Slice[models.Person], after: str | None = None) -> PersonConnection:
        """Map a service-layer slice."""
        return cls.of_nodes(page, Person.from_domain, after)


@payload("A person after a change.")
class PersonPayload:
    person: Person | None = result_field("The person after the change")


@payload("People after an upsert, in input order, and what changed.")
class PeoplePayload:
    people: list[Person] = strawberry.field(
        default_factory=list,
        description="Every given person as stored, in input order; empty on userErrors.",
    )
    created: int = strawberry.field(default=0, description="How many were new.")
    updated: int = strawberry.field(default=0, description="How many changed.")
    unchanged: int = strawberry.field(default=0, description="How many were already so.")
    user_errors: list[UserError] = strawberry.field(
        default_factory=list,
        description=USER_ERRORS + " One entry per problem; `field` is "
        '`["input", "<index>", "<field>"]`. Nothing is applied when any row is invalid.',
    )
