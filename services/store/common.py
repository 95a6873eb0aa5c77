"""Helpers shared by the repositories: ids, time, duplicate-key detection."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from pymongo.errors import DuplicateKeyError

from services.errors import AlreadyExists

__all__ = ["DuplicateKeyError", "new_id", "unique", "utcnow"]


@contextmanager
def unique(what: str) -> Iterator[None]:
    """Turn the driver's duplicate-key error into ``AlreadyExists(what)`` (no key values)."""
    try:
        yield
    except DuplicateKeyError:
        raise AlreadyExists(what) from None


def new_id(prefix: str) -> str:
    """An opaque, URL-safe identifier such as ``org_3fA…``."""
    return f"{prefix}_{secrets.token_urlsafe(12)}"


def utcnow() -> datetime:
    """The current time in UTC, truncated to milliseconds as MongoDB stores it."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)
