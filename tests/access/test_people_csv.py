"""The people CSV parser (SPEC §4): strict, whole-file, row-numbered reasons."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.people.csv_import import MAX_BYTES, FileTooLarge, parse_people_csv
from services.people.models import PersonStatus
from services.people.validation import InvalidPeople

HEADER = "email,name,status,job_role,start_date,offboarded_at\n"


def rows(n: int) -> bytes:
    lines = [HEADER] + [
        f"user{i}@acme.test,User {i},ACTIVE,Engineer,2024-01-02,\n" for i in range(n)
    ]
    return "".join(lines).encode()


def test_a_valid_file() -> None:
    text = (
        "\ufeff"
        + HEADER
        + 'ann@acme.test,"Ann, the First",ACTIVE,Engineer,2024-01-02,\n'
        + "\n"
        + "bob@acme.test,Bob,offboarded,Sales,,2025-03-04\n"
        + "cy@acme.test,Cy,OFFBOARDED,,,2025-03-04T10:00:00+02:00\r\n"
    )
    ann, bob, cy = parse_people_csv(text.encode())
    assert (ann.name, ann.start_date, ann.status) == (
        "Ann, the First",
        date(2024, 1, 2),
        PersonStatus.ACTIVE,
    )
    assert bob.status is PersonStatus.OFFBOARDED
    assert bob.offboarded_at == datetime(2025, 3, 4, tzinfo=UTC)
    assert cy.offboarded_at == datetime(2025, 3, 4, 8, tzinfo=UTC) and cy.job_role is None


def test_ten_thousand_rows() -> None:
    assert len(parse_people_csv(rows(10_000))) == 10_000


BAD = [
    (
        "bad email",
        HEADER + "ann@acme.test,A,ACTIVE,,,\nnot-an-email,B,ACTIVE,,,\n",
        [(3, "email", "not a valid email")],
    ),
    ("unknown status", HEADER + "ann@acme.test,A,RETIRED,,,\n", [(2, "status", "unknown status")]),
    (
        "offboarded without date",
        HEADER + "ann@acme.test,A,OFFBOARDED,,,\n",
        [(2, "offboarded_at", "needs offboarded_at")],
    ),
    (
        "duplicate email",
        HEADER + "ann@acme.test,A,ACTIVE,,,\nb@acme.test,B,ACTIVE,,,\nANN@acme.test,A,ACTIVE,,,\n",
        [(4, "email", "duplicate email 'ANN@acme.test' (first given in row 2)")],
    ),
    (
        "wrong header",
        "mail,name,status\nann@acme.test,A,ACTIVE\n",
        [(1, None, "the header must be")],
    ),
    ("empty file", "", [(1, None, "the header must be")]),
    (
        "wrong column count",
        HEADER + "ann@acme.test,A,ACTIVE,,\n",
        [(2, None, "expected 6 columns, got 5")],
    ),
    (
        "bad start date",
        HEADER + "ann@acme.test,A,ACTIVE,,02/01/2024,\n",
        [(2, "start_date", "not a date")],
    ),
    (
        "bad offboarding time",
        HEADER + "ann@acme.test,A,OFFBOARDED,,,yesterday\n",
        [(2, "offboarded_at", "not a date or ISO 8601 time")],
    ),
    ("unterminated quote", HEADER + 'ann@acme.test,"A,ACTIVE,,,\n', [(2, None, "malformed CSV")]),
]


@pytest.mark.parametrize(("name", "text", "expected"), BAD, ids=[b[0] for b in BAD])
def test_each_kind_of_bad_file_is_rejected_with_row_numbers(name, text, expected) -> None:
    with pytest.raises(InvalidPeople) as caught:
        parse_people_csv(text.encode())
    got = [(p.row, p.field, p.reason) for p in caught.value.problems]
    assert len(got) == len(expected), got
    for (row, field, reason), (erow, efield, ereason) in zip(got, expected, strict=True):
        assert (row, field) == (erow, efield)
        assert ereason in reason


def test_every_problem_of_a_file_is_reported_in_row_order() -> None:
    text = HEADER + "a@x.test,A,NOPE,,,\nbad,B,ACTIVE,,,\nc@x.test,C,OFFBOARDED,,,\n"
    with pytest.raises(InvalidPeople) as caught:
        parse_people_csv(text.encode())
    assert [p.row for p in caught.value.problems] == [2, 3, 4]


def test_not_utf8() -> None:
    data = (
        HEADER + "ann@acme.test,Ann,ACTIVE,,,\n"
    ).encode() + "jos\xe9@acme.test,J,ACTIVE,,,\n".encode("latin-1")
    with pytest.raises(InvalidPeople) as caught:
        parse_people_csv(data)
    (problem,) = caught.value.problems
    assert problem.row == 3 and "not UTF-8" in problem.reason


def test_over_ten_megabytes() -> None:
    with pytest.raises(FileTooLarge) as caught:
        parse_people_csv(b"x" * (MAX_BYTES + 1))
    assert caught.value.code == "FILE_TOO_LARGE"
