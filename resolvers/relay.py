"""Relay connection plumbing shared by every paginated field (SPEC §7).

The descriptions here are reused by every connection so that the schema states the paging
rules once, the same way everywhere: default page size 50, maximum 500, opaque cursors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Generic, Self, TypeVar, get_args

import strawberry

from services.paging import DEFAULT_FIRST, MAX_FIRST, Slice

FIRST = (
    f"How many items to return: 1 to {MAX_FIRST}; default {DEFAULT_FIRST}. A value outside "
    "the range is a BAD_USER_INPUT error."
)
AFTER = (
    "Return the items after this cursor (an `endCursor` or edge `cursor` of an earlier page); "
    "omit for the first page. A malformed cursor is a BAD_USER_INPUT error."
)
CURSOR = "Opaque cursor of this item: pass it as `after` to continue after it."
EDGES = "The items of this page, in the connection's order."
PAGE_INFO = "Where this page starts and ends, and whether more items follow."
TOTAL_COUNT = "How many items the whole connection has (all pages, with the same filter)."
USER_ERRORS = (
    "Expected failures (validation, not found, forbidden by role, conflicting state); empty "
    "on success. When not empty, the result object is null and nothing changed."
)
INITIAL = (
    "true: first send {what} as it is once this subscription is live, then every change "
    "(so nothing changed between a query and this subscription is lost: see docs/api.md). "
    "Default false: changes only."
)

N = TypeVar("N")
E = TypeVar("E")
D = TypeVar("D")

First = Annotated[int | None, strawberry.argument(description=FIRST)]
After = Annotated[str | None, strawberry.argument(description=AFTER)]


def described(text: str, **kwargs: Any) -> Any:
    """A field with a description (and optional default): ``strawberry.field`` shorthand."""
    return strawberry.field(description=text, **kwargs)


@strawberry.type(
    description="Where a page of a connection starts and ends and whether more items follow. "
    "Connections page forwards only (`first` / `after`)."
)
class PageInfo:
    has_next_page: bool = described("True when items follow this page (fetch with `after`).")
    end_cursor: str | None = described(
        "Cursor of the last item of this page; null when the page is empty."
    )
    has_previous_page: bool = described(
        "True when items precede this page, i.e. the page was requested with `after`."
    )
    start_cursor: str | None = described(
        "Cursor of the first item of this page; null when the page is empty."
    )

    @classmethod
    def of(cls, page: Slice[Any], after: str | None = None) -> PageInfo:
        """The page info of a service-layer slice (``after``: the cursor it was asked for)."""
        return cls(
            has_next_page=page.has_next_page,
            end_cursor=page.end_cursor,
            has_previous_page=bool(after),
            start_cursor=page.items[0][0] if page.items else None,
        )


@strawberry.type(description="An item of a connection and its cursor.")
class Edge(Generic[N]):
    """The edge of every connection: ``cursor``, then ``node``.

    A subclass names the node's type and describes it (``node: Person = described("The
    person.")``); the subclass is the GraphQL type (``PersonEdge``)."""

    cursor: str = described(CURSOR)
    node: N = described("The item.")


@strawberry.type(description="A page of a connection.")
class Connection(Generic[E]):
    """The connection of every paginated field: ``edges``, ``pageInfo``, ``totalCount``.

    A subclass names its edge type and is the GraphQL type (``PersonConnection``); it may
    describe a field otherwise by declaring it again (the field keeps its place)."""

    edges: list[E] = described(EDGES)
    page_info: PageInfo = described(PAGE_INFO)
    total_count: int = described(TOTAL_COUNT)

    @classmethod
    def of_slice(
        cls, page: Slice[D], edge: Callable[[str, D], E], after: str | None = None
    ) -> Self:
        """The connection of a service-layer slice: ``edge(cursor, item)`` for each item
        (``after``: the cursor the page was asked for)."""
        return cls(
            edges=[edge(cursor, item) for cursor, item in page.items],
            page_info=PageInfo.of(page, after),
            total_count=page.total_count,
        )

    @classmethod
    def of_nodes(cls, page: Slice[D], node: Callable[[D], Any], after: str | None = None) -> Self:
        """``of_slice`` with edges of the type the subclass names (``Connection[PersonEdge]``)
        holding ``node(item)``."""
        edge = get_args(cls.__dict__["__orig_bases__"][0])[0]
        return cls.of_slice(page, lambda cursor, item: edge(cursor=cursor, node=node(item)), after)


@strawberry.interface(
    description="An object with an id that is unique across types: refetch it with "
    "`node(id)` (Relay's object identification)."
)
class Node:
    id: strawberry.ID = strawberry.field(description="Opaque id, unique across types.")
