"""Relay-style paging in the service layer: ``first``/``after`` in, a ``Slice`` out.

Cursors are opaque to clients: the URL-safe base64 of the sort key of the last item seen,
so paging is stable while items are added (keyset pagination, not offsets).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from services.errors import ValidationFailed

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

MAX_FIRST = 500
DEFAULT_FIRST = 50
MAX_FILTER_TEXT = 200


@dataclass(frozen=True, slots=True)
class Slice(Generic[T]):
    """One page of a connection: items with their cursors, and the size of the whole."""

    items: list[tuple[str, T]]
    total_count: int
    has_next_page: bool

    @property
    def end_cursor(self) -> str | None:
        """The cursor of the last item, if any."""
        return self.items[-1][0] if self.items else None


def page_size(first: int | None, *, default: int = DEFAULT_FIRST) -> int:
    """Validate ``first`` (1..500); None means ``default``."""
    if first is None:
        return default
    if not 1 <= first <= MAX_FIRST:
        raise ValidationFailed(f"first must be between 1 and {MAX_FIRST}", field=["first"])
    return first


def check_filter_texts(filter: object, names: Sequence[str]) -> None:
    """Refuse a filter whose text ``names`` (in that order) holds more than ``MAX_FILTER_TEXT``
    characters."""
    for name in names:
        value = getattr(filter, name)
        if value is not None and len(value) > MAX_FILTER_TEXT:
            raise ValidationFailed(
                f"{name} must be at most {MAX_FILTER_TEXT} characters", field=["filter", name]
            )


def encode_cursor(key: str) -> str:
    """The opaque cursor for a sort key."""
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    """The sort key inside a cursor; a malformed cursor is a ``VALIDATION_FAILED``."""
    if cursor is None or cursor == "":
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return base64.urlsafe_b64decode(padded.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValidationFailed("after is not a valid cursor", field=["after"]) from None


def time_cursor(at: datetime | None, item_id: str) -> str:
    """The sort key of an item listed by time, then id (``<ISO time>|<id>``; no time: empty)."""
    return f"{at.isoformat() if at else ''}|{item_id}"


def decode_time_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    """The ``(time, id)`` inside a cursor of a ``time_cursor`` key; a malformed cursor is a
    ``VALIDATION_FAILED``."""
    key = decode_cursor(cursor)
    if key is None:
        return None
    at, _, item_id = key.partition("|")
    try:
        return datetime.fromisoformat(at), item_id
    except ValueError:
        raise ValidationFailed("after is not a valid cursor", field=["after"]) from None


class RowsBefore(Protocol[T_co]):
    """A newest-first listing, its other arguments bound (``functools.partial``): up to
    ``limit`` rows older than ``before`` (the time and id of the last one seen), and how many
    there are."""

    def __call__(
        self, *, limit: int, before: tuple[datetime, str] | None
    ) -> Awaitable[tuple[Sequence[T_co], int]]: ...


async def time_slice(
    rows: RowsBefore[T],
    first: int | None,
    after: str | None,
    key: Callable[[T], tuple[datetime | None, str]],
) -> Slice[T]:
    """A page of ``rows`` after the cursor ``after``; a row's cursor is its ``key`` (its time
    and id: ``time_cursor``)."""
    limit = page_size(first)
    found, total = await rows(limit=limit + 1, before=decode_time_cursor(after))
    return make_slice(found, limit=limit, total=total, key=lambda row: time_cursor(*key(row)))


def make_slice(rows: Sequence[T], *, limit: int, total: int, key: Callable[[T], str]) -> Slice[T]:
    """Build a slice from up to ``limit + 1`` rows (the extra one only signals a next page)."""
    shown = list(rows[:limit])
    return Slice(
        items=[(encode_cursor(key(row)), row) for row in shown],
        total_count=total,
        has_next_page=len(rows) > limit,
    )
