"""Helpers shared by the repositories: ids (``services.ids``), time, duplicate-key detection."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pymongo.errors import DuplicateKeyError

from services.clock import utcnow_ms as utcnow
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
