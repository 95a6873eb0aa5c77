"""People: the workforce from the HR source of truth (SPEC §4). Confluence never changes them."""

from __future__ import annotations

import base64
import enum
import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any


class PersonStatus(enum.StrEnum):
    """Whether a person still works here."""

    ACTIVE = "ACTIVE"
    OFFBOARDED = "OFFBOARDED"


@dataclass(frozen=True, slots=True)
class PersonFields:
    """What HR says of a person: the fields of a draft, a validated record and a stored one."""

    email: str
    name: str | None
    status: PersonStatus
    job_role: str | None
    start_date: date | None
    offboarded_at: datetime | None

    @property
    def email_key(self) -> str:
        """The case-insensitive identity of a person."""
        return self.email.lower()


@dataclass(frozen=True, slots=True)
class PersonRecord(PersonFields):
    """A validated person as given by HR (mutation input or one CSV row)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Person(PersonFields):
    """A stored person; ``id`` is derived from the organization and the lower-cased email."""

    id: str
    organization_id: str
    created_at: datetime
    updated_at: datetime

    def same_as(self, record: PersonRecord) -> bool:
        """Whether storing ``record`` would change nothing."""
        return (
            self.email == record.email
            and self.name == record.name
            and self.status is record.status
            and self.job_role == record.job_role
            and self.start_date == record.start_date
            and self.offboarded_at == record.offboarded_at
        )


@dataclass(frozen=True, slots=True)
class PersonFilter:
    """Filters of ``people``; None means "any". ``search`` matches email or name."""

    status: PersonStatus | None = None
    job_role: str | None = None
    search: str | None = None


class PersonSortField(enum.StrEnum):
    """What ``people`` can be sorted by (ties: by email)."""

    EMAIL = "email_key"
    UPDATED_AT = "updated_at"


@dataclass(frozen=True, slots=True)
class PersonSort:
    """The order of ``people``: a field and a direction."""

    field: PersonSortField = PersonSortField.EMAIL
    descending: bool = False


@dataclass(frozen=True, slots=True)
class PersonKey:
    """Where a page of ``people`` continues: after the person with these sort values."""

    value: Any
    email_key: str


@dataclass(frozen=True, slots=True)
class UpsertSummary:
    """What an upsert did: the stored people (input order), how many were new or changed."""

    people: tuple[Person, ...]
    created: int
    updated: int
    unchanged: int


def person_id(organization_id: str, email: str) -> str:
    """The stable, opaque id of the person with ``email`` (case-insensitive) in an org."""
    digest = hashlib.sha256(f"{organization_id}\n{email.lower()}".encode()).digest()
    return "per_" + base64.urlsafe_b64encode(digest[:12]).decode()
