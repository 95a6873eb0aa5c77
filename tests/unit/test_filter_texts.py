"""A filter's free texts are refused past ``MAX_FILTER_TEXT`` characters, as a
``VALIDATION_FAILED`` naming the field: the accounts', people's and pages' filters share
``services.paging.check_filter_texts``."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from services.errors import ValidationFailed
from services.paging import MAX_FILTER_TEXT, check_filter_texts
from services.sync.models import AccountFilter
from services.sync.reads import check_account_texts


@dataclass(frozen=True)
class Texts:
    first: str | None = None
    second: str | None = None


def test_a_text_at_the_limit_or_absent_passes() -> None:
    check_filter_texts(Texts("x" * MAX_FILTER_TEXT, None), ("first", "second"))


def test_a_longer_text_is_refused_naming_its_field_and_the_first_named_wins() -> None:
    long = "x" * (MAX_FILTER_TEXT + 1)
    with pytest.raises(ValidationFailed) as refused:
        check_filter_texts(Texts(long, long), ("second", "first"))
    assert refused.value.field == ["filter", "second"]
    assert str(refused.value) == f"second must be at most {MAX_FILTER_TEXT} characters"


def test_an_account_filter_refuses_each_long_text() -> None:
    for name in ("group", "search", "status", "account_type"):
        with pytest.raises(ValidationFailed) as refused:
            check_account_texts(AccountFilter(**{name: "x" * (MAX_FILTER_TEXT + 1)}))
        assert refused.value.field == ["filter", name]
