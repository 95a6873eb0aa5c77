"""The fast path for plain objects answers exactly what graphql-core answers (issue 15)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import pytest
import strawberry

from resolvers.plain_execution import PlainExecutionContext


@strawberry.enum
class Kind(Enum):
    ACCOUNT = "account"
    PAGE = "page"


@strawberry.type
class Owner:
    name: str
    since: datetime | None


@strawberry.type
class Item:
    resource_id: strawberry.ID
    kind: Kind
    name: str | None
    tags: list[str]
    owner: Owner | None
    must: str

    @strawberry.field
    async def computed(self) -> str:
        return f"computed {self.resource_id}"


@strawberry.type
class Edge:
    cursor: str
    node: Item


@strawberry.type
class Page:
    edges: list[Edge]
    total_count: int


@dataclass
class Broken:
    """An object whose non-null field is None: the normal path must report it."""

    resource_id: str = "x"
    kind: Kind = Kind.PAGE
    name: str | None = None
    tags: tuple[str, ...] = ()
    owner: Owner | None = None
    must: Any = None


def _items(broken: bool) -> list[Any]:
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    items: list[Any] = [
        Item(
            resource_id=strawberry.ID(f"r{i}"),
            kind=Kind.ACCOUNT if i % 2 else Kind.PAGE,
            name=None if i % 3 else f"Name {i}",
            tags=[f"t{i}", "all"],
            owner=Owner(name=f"o{i}", since=at if i % 2 else None) if i % 4 else None,
            must="yes",
        )
        for i in range(7)
    ]
    if broken:
        items.insert(3, Broken())
    return items


@strawberry.type
class Query:
    @strawberry.field
    def page(self, broken: bool = False) -> Page:
        return Page(
            edges=[Edge(cursor=f"c{i}", node=n) for i, n in enumerate(_items(broken))],
            total_count=7,
        )


FAST = strawberry.Schema(query=Query, execution_context_class=PlainExecutionContext)
NORMAL = strawberry.Schema(query=Query)

QUERIES = [
    "{ page { totalCount edges { cursor node { resourceId kind name tags must } } } }",
    "{ page { edges { node { __typename id: resourceId owner { name since } } } } }",
    """query($skip: Boolean!) { page { edges { ... on Edge { cursor }
       node { ...F kind @skip(if: $skip) } } } } fragment F on Item { name tags }""",
    "{ page { edges { node { resourceId computed owner { name } } } } }",  # a resolver
    "{ page(broken: true) { edges { cursor node { resourceId must } } } }",  # null non-null
    "{ page(broken: true) { edges { node { name tags kind } } } }",  # broken but not selected
]


@pytest.mark.parametrize("query", QUERIES)
async def test_fast_path_answers_what_graphql_core_answers(query: str) -> None:
    variables = {"skip": False}
    fast = await FAST.execute(query, variable_values=variables)
    normal = await NORMAL.execute(query, variable_values=variables)
    assert fast.data == normal.data
    assert [(e.message, e.path) for e in fast.errors or []] == [
        (e.message, e.path) for e in normal.errors or []
    ]
    assert fast.data is not None or fast.errors


async def test_null_in_a_non_null_field_is_reported_at_its_path() -> None:
    result = await FAST.execute(QUERIES[4])
    assert result.errors and result.errors[0].path == ["page", "edges", 3, "node", "must"]


async def test_plain_objects_take_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    from resolvers import plain_execution

    calls = []
    original = plain_execution._complete

    def spy(plan: Any, source: Any) -> dict[str, Any]:
        calls.append(type(source).__name__)
        return original(plan, source)

    monkeypatch.setattr(plain_execution, "_complete", spy)
    result = await FAST.execute(QUERIES[0])
    assert not result.errors
    # The page object is completed at once: its edges and their nodes in the same pass.
    assert calls == ["Page"] + ["Edge", "Item"] * 7
