"""Depth, alias and cost limits are computed once per fragment: linear in the document."""

from __future__ import annotations

import time
from typing import Any

import pytest
from graphql import parse

from resolvers.limits import Limits, limit_errors
from resolvers.schema import build_schema
from resolvers.validation_cache import CachedValidation


def doubling(levels: int, leaf: str = "me { role }") -> str:
    """``fragment F0 on Query { ...F1 ...F1 }`` … ``fragment Fn on Query { <leaf> }``."""
    parts = ["query Q { ...F0 }"]
    for i in range(levels):
        parts.append(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}")
    parts.append(f"fragment F{levels} on Query {{ {leaf} }}")
    return "\n".join(parts)


async def test_fragment_doubling_at_30_levels_is_refused_in_under_50_ms() -> None:
    schema = build_schema()
    query = doubling(30)
    timings: list[float] = []
    for _ in range(3):  # the best of three: the CI machine is shared
        started = time.perf_counter()
        result = await schema.execute(query)
        timings.append(time.perf_counter() - started)
    assert result.data is None and result.errors
    assert "fields once fragments are expanded" in result.errors[0].message
    assert result.errors[0].extensions == {"code": "QUERY_TOO_COMPLEX"}
    assert min(timings) < 0.05, f"refusing took {min(timings) * 1000:.1f} ms"


def test_aliases_in_a_fragment_count_once_per_spread() -> None:
    query = doubling(5, leaf="a: me { role } b: me { role }")  # 2^5 spreads * 2 aliases
    errors = limit_errors(parse(query), Limits())
    assert [e.message for e in errors] == ["64 aliases found. Allowed: 30"]
    assert limit_errors(parse(doubling(3, leaf="a: me { role }")), Limits()) == []


@pytest.mark.parametrize(("depth", "refused"), [(12, False), (13, True)])
def test_depth_limit_is_unchanged(depth: int, refused: bool) -> None:
    query = "{ " + "me { " * depth + "role" + " }" * (depth + 1)
    errors = limit_errors(parse(query), Limits())
    assert bool(errors) is refused
    if refused:
        assert "exceeds maximum operation depth of 12" in errors[0].message


def test_depth_through_fragments_counts_the_expanded_nesting() -> None:
    frags = " ".join(f"fragment D{i} on Query {{ me {{ ...D{i + 1} }} }}" for i in range(12))
    query = "{ ...D0 } " + frags + " fragment D12 on Query { me { role } }"
    errors = limit_errors(parse(query), Limits())
    assert any("depth" in e.message for e in errors)


def test_fragment_cycles_and_unknown_fragments_are_left_to_validation() -> None:
    query = "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A ...Nope }"
    assert limit_errors(parse(query), Limits()) == []


async def test_a_legitimate_query_passes() -> None:
    schema = build_schema()
    result = await schema.execute("query { __typename }")
    assert result.errors is None


async def test_cached_validation_keeps_refusing_over_limit_and_invalid_documents() -> None:
    """Validation is cached per document (issue 15): the limits still refuse a document
    the second time, and an invalid one gets the same errors every time."""
    schema = build_schema()
    over = doubling(30)
    invalid = "{ me { noSuchField } }"
    for _ in range(2):
        refused = await schema.execute(over)
        assert refused.errors and refused.errors[0].extensions == {"code": "QUERY_TOO_COMPLEX"}
        wrong = await schema.execute(invalid)
        assert wrong.data is None and wrong.errors
        assert [e.message for e in wrong.errors] == [
            "Cannot query field 'noSuchField' on type 'Viewer'."
        ]


async def test_a_repeated_document_is_validated_once_per_schema() -> None:
    schema = build_schema()
    cache: Any = CachedValidation().cached_validate_document  # Strawberry's shared LRU cache
    query = "query ValidatedOnce { __typename }"
    before = cache.cache_info()
    for _ in range(3):
        result = await schema.execute(query)
        assert result.errors is None and result.data == {"__typename": "Query"}
    after = cache.cache_info()
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 2)
