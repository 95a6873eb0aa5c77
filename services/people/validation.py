"""Validation of people as HR gives them (mutation input and CSV rows alike).

A batch is accepted whole or not at all: every problem is collected with its row (the
index in the mutation input, or the line number in a CSV file) and nothing is written.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from services.clock import utc_ms
from services.errors import DomainError
from services.people.models import PersonFields, PersonRecord, PersonStatus

EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
MAX_EMAIL = 254
MAX_NAME = 200
MAX_ROLE = 100
MAX_BATCH = 50_000


@dataclass(frozen=True, slots=True)
class Problem:
    """Why one row (1-based line of a CSV, or 0-based index of an input list) is invalid."""

    row: int
    field: str | None
    reason: str


class InvalidPeople(DomainError):
    """A batch of people was refused whole; ``problems`` says where and why."""

    code = "INVALID_PEOPLE"

    def __init__(self, message: str, problems: Sequence[Problem]) -> None:
        super().__init__(message)
        self.problems = list(problems)


@dataclass(frozen=True, slots=True)
class PersonDraft(PersonFields):
    """A person as given, typed but not yet validated."""


def check_draft(draft: PersonDraft, row: int) -> tuple[PersonRecord | None, list[Problem]]:
    """The validated record, or the problems of this row."""
    problems: list[Problem] = []
    email = draft.email.strip()
    if not email:
        problems.append(Problem(row, "email", "email is required"))
    elif len(email) > MAX_EMAIL or not EMAIL.match(email) or _has_control(email):
        problems.append(Problem(row, "email", f"{email!r} is not a valid email address"))
    name = _text(draft.name, MAX_NAME, "name", row, problems)
    role = _text(draft.job_role, MAX_ROLE, "job_role", row, problems)
    offboarded_at = _utc(draft.offboarded_at)
    if draft.status is PersonStatus.OFFBOARDED and offboarded_at is None:
        problems.append(Problem(row, "offboarded_at", "an OFFBOARDED person needs offboarded_at"))
    if draft.status is PersonStatus.ACTIVE and offboarded_at is not None:
        problems.append(Problem(row, "offboarded_at", "an ACTIVE person cannot have offboarded_at"))
    if problems:
        return None, problems
    record = PersonRecord(email, name, draft.status, role, draft.start_date, offboarded_at)
    return record, []


def check_batch(drafts: Sequence[tuple[int, PersonDraft]]) -> list[PersonRecord]:
    """Validate a whole batch (with each draft's row); raises ``InvalidPeople`` on any problem."""
    if len(drafts) > MAX_BATCH:
        raise InvalidPeople(
            f"at most {MAX_BATCH} people at once", [Problem(0, None, "too many people")]
        )
    records: list[PersonRecord] = []
    problems: list[Problem] = []
    first_row: dict[str, int] = {}
    for row, draft in drafts:
        record, found = check_draft(draft, row)
        problems.extend(found)
        if record is None:
            continue
        seen = first_row.setdefault(record.email_key, row)
        if seen != row:
            reason = f"duplicate email {record.email!r} (first given in row {seen})"
            problems.append(Problem(row, "email", reason))
        records.append(record)
    if problems:
        raise InvalidPeople(f"{len(problems)} problem(s); nothing was applied", problems)
    return records


def _text(
    value: str | None, limit: int, field: str, row: int, problems: list[Problem]
) -> str | None:
    text = (value or "").strip()
    if len(text) > limit:
        problems.append(Problem(row, field, f"{field} must be at most {limit} characters"))
    elif _has_control(text):
        problems.append(Problem(row, field, f"{field} contains a control character (e.g. NUL)"))
    return text or None


def _has_control(text: str) -> bool:
    """NUL, newlines, other C0/C1 controls and lone surrogates have no place in a name."""
    return any(unicodedata.category(c) in ("Cc", "Cs") for c in text)


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else utc_ms(value)
