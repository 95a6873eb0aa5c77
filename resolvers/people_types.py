"""GraphQL types of people (SPEC §4, §7)."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum

import strawberry

from resolvers.errors import UserError
from resolvers.relay import PageInfo
from services.paging import Slice
from services.people import models
from services.people.validation import InvalidPeople, PersonDraft

_CAMEL = {"job_role": "jobRole", "start_date": "startDate", "offboarded_at": "offboardedAt"}


@strawberry.enum
class PersonStatus(Enum):
    """Whether a person still works here."""

    ACTIVE = "ACTIVE"
    OFFBOARDED = "OFFBOARDED"


@strawberry.type
class Person:
    """A member of the workforce, from the HR source of truth."""

    id: strawberry.ID
    email: str
    name: str | None
    status: PersonStatus
    job_role: str | None
    start_date: date | None
    offboarded_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_domain(cls, p: models.Person) -> Person:
        """Map the domain object."""
        return cls(
            id=strawberry.ID(p.id),
            email=p.email,
            name=p.name,
            status=PersonStatus(p.status.value),
            job_role=p.job_role,
            start_date=p.start_date,
            offboarded_at=p.offboarded_at,
            created_at=p.created_at,
            updated_at=p.updated_at,
        )


@strawberry.input
class PersonInput:
    """A person as HR states it; ``email`` identifies them (case-insensitively)."""

    email: str
    name: str | None = None
    status: PersonStatus = PersonStatus.ACTIVE
    job_role: str | None = None
    start_date: date | None = None
    offboarded_at: datetime | None = None

    def to_draft(self) -> PersonDraft:
        """The service-layer draft."""
        return PersonDraft(
            email=self.email,
            name=self.name,
            status=models.PersonStatus(self.status.value),
            job_role=self.job_role,
            start_date=self.start_date,
            offboarded_at=self.offboarded_at,
        )


@strawberry.input
class OffboardPersonInput:
    """Offboard a person at ``offboardedAt`` (default: now)."""

    person_id: strawberry.ID
    offboarded_at: datetime | None = None


@strawberry.input
class PersonFilter:
    """Every given filter must match; ``search`` matches email or name."""

    status: PersonStatus | None = None
    job_role: str | None = None
    search: str | None = None

    def to_domain(self) -> models.PersonFilter:
        """The service-layer filter."""
        return models.PersonFilter(
            status=models.PersonStatus(self.status.value) if self.status else None,
            job_role=self.job_role,
            search=self.search,
        )


@strawberry.type
class PersonEdge:
    """A person and its cursor."""

    cursor: str
    node: Person


@strawberry.type
class PersonConnection:
    """People by email."""

    edges: list[PersonEdge]
    page_info: PageInfo
    total_count: int

    @classmethod
    def of(cls, page: Slice[models.Person]) -> PersonConnection:
        """Map a service-layer slice."""
        return cls(
            edges=[PersonEdge(cursor=c, node=Person.from_domain(p)) for c, p in page.items],
            page_info=PageInfo.of(page),
            total_count=page.total_count,
        )


@strawberry.type
class PersonPayload:
    """A person after a change."""

    person: Person | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class PeoplePayload:
    """People after an upsert, in input order, and what changed."""

    people: list[Person] = strawberry.field(default_factory=list)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    user_errors: list[UserError] = strawberry.field(default_factory=list)


def people_errors(exc: InvalidPeople) -> list[UserError]:
    """One user error per problem, naming the input index and field."""
    return [
        UserError(
            field=["input", str(p.row)] + ([_CAMEL.get(p.field, p.field)] if p.field else []),
            code="VALIDATION_FAILED",
            message=p.reason,
        )
        for p in exc.problems
    ]
