"""Parsing a people CSV (SPEC §4): strict, whole-file, with row-numbered reasons.

Header ``email,name,status,job_role,start_date,offboarded_at``; UTF-8 (a BOM is allowed);
at most 10 MB. Rows are numbered as lines of the file (the header is row 1). Blank lines
are ignored. Any problem rejects the whole file.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

from services.people.models import PersonRecord, PersonStatus
from services.people.validation import InvalidPeople, PersonDraft, Problem, check_batch

HEADER = ("email", "name", "status", "job_role", "start_date", "offboarded_at")
MAX_BYTES = 10 * 1024 * 1024
MAX_REPORTED = 1000


class FileTooLarge(InvalidPeople):
    """The file is over the size limit."""

    code = "FILE_TOO_LARGE"


def parse_people_csv(data: bytes) -> list[PersonRecord]:
    """The validated records of a CSV file; raises ``InvalidPeople`` with every problem."""
    if len(data) > MAX_BYTES:
        raise FileTooLarge(
            f"the file is over {MAX_BYTES // (1024 * 1024)} MB",
            [Problem(0, None, f"the file is {len(data)} bytes; the limit is {MAX_BYTES}")],
        )
    text = _decode(data)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    drafts: list[tuple[int, PersonDraft]] = []
    problems: list[Problem] = []
    try:
        _check_header(next(reader, None))
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            draft = _draft(cells, reader.line_num, problems)
            if draft is not None:
                drafts.append((reader.line_num, draft))
    except csv.Error as exc:
        problems.append(Problem(reader.line_num, None, f"malformed CSV: {exc}"))
    try:
        records = check_batch(drafts)
    except InvalidPeople as exc:
        problems.extend(exc.problems)
        records = []
    if problems:
        problems.sort(key=lambda p: p.row)
        raise InvalidPeople(
            f"the file was rejected: {len(problems)} problem(s); nothing was imported",
            problems[:MAX_REPORTED],
        )
    return records


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        reason = f"the file is not UTF-8 (invalid byte at offset {exc.start})"
        raise InvalidPeople("the file is not UTF-8", [Problem(line, None, reason)]) from None


def _check_header(cells: list[str] | None) -> None:
    names = tuple(c.strip().lower() for c in cells or ())
    if names != HEADER:
        got = ",".join(cells or ()) or "nothing"
        reason = f"the header must be {','.join(HEADER)!r}; got {got[:200]!r}"
        raise InvalidPeople("wrong header", [Problem(1, None, reason)])


def _draft(cells: list[str], row: int, problems: list[Problem]) -> PersonDraft | None:
    if len(cells) != len(HEADER):
        reason = f"expected {len(HEADER)} columns, got {len(cells)}"
        problems.append(Problem(row, None, reason))
        return None
    email, name, status, role, start, offboarded = (c.strip() for c in cells)
    before = len(problems)
    parsed_status = _status(status, row, problems)
    start_date = _date(start, row, problems)
    offboarded_at = _datetime(offboarded, row, problems)
    if len(problems) > before or parsed_status is None:
        return None
    return PersonDraft(email, name, parsed_status, role, start_date, offboarded_at)


def _status(value: str, row: int, problems: list[Problem]) -> PersonStatus | None:
    try:
        return PersonStatus(value.upper())
    except ValueError:
        reason = f"unknown status {value!r}: use ACTIVE or OFFBOARDED"
        problems.append(Problem(row, "status", reason))
        return None


def _date(value: str, row: int, problems: list[Problem]) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        problems.append(Problem(row, "start_date", f"{value!r} is not a date (YYYY-MM-DD)"))
        return None


def _datetime(value: str, row: int, problems: list[Problem]) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        reason = f"{value!r} is not a date or ISO 8601 time"
        problems.append(Problem(row, "offboarded_at", reason))
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
