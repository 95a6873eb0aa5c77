"""Input at the domain boundaries: clear ``VALIDATION_FAILED`` / ``INVALID_PEOPLE``, no crash."""

from __future__ import annotations

import pytest

from services.errors import ValidationFailed
from services.integrations.service import header_safe
from services.people.csv_import import parse_people_csv
from services.people.validation import InvalidPeople

HEADER = b"email,name,status,job_role,start_date,offboarded_at\n"


@pytest.mark.parametrize("value", ["clé-secrète", "tok en", "tok\r\nX-Evil: 1", "tok\x00", "ключ"])
def test_header_unsafe_secrets_are_validation_errors(value: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        header_safe(value, "apiKey", "admin API key")
    assert err.value.field == ["apiKey"] and "ASCII" in err.value.message


def test_header_safe_values_pass() -> None:
    assert header_safe("  ATATT3xFfGF0-_.~+/=  ", "apiToken", "API token") == "ATATT3xFfGF0-_.~+/="


@pytest.mark.parametrize(
    "row",
    [
        b"ann@example.com,Ann\x00Smith,ACTIVE,,,\n",
        b"ann@example.com,Ann,ACTIVE,Eng\x07,,\n",
        b"ann\x00@example.com,Ann,ACTIVE,,,\n",
    ],
)
def test_control_characters_in_a_csv_are_refused(row: bytes) -> None:
    with pytest.raises(InvalidPeople) as err:
        parse_people_csv(HEADER + row)
    assert err.value.problems and err.value.problems[0].row == 2
