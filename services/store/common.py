"""Helpers shared by the repositories: ids (``services.ids``), time, duplicate-key detection."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from pymongo.errors import DuplicateKeyError

from services.errors import AlreadyExists
from services.ids import new_id

__all__ = ["DuplicateKeyError", "new_id", "unique", "utcnow"]


@contextmanager
def unique(what: str) -> Iterator[None]:
    """Turn the driver's duplicate-key error into ``AlreadyExists(what)`` (no key values)."""
    try:
        yield
    except DuplicateKeyError:
        raise AlreadyExists(what) from None


def utcnow() -> datetime:
    """The current time in UTC, truncated to milliseconds as MongoDB stores it."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)
