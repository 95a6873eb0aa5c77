"""Helpers shared by the repositories: ids, time, duplicate-key detection."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from pymongo.errors import DuplicateKeyError

__all__ = ["DuplicateKeyError", "new_id", "utcnow"]


def new_id(prefix: str) -> str:
    """An opaque, URL-safe identifier such as ``org_3fA…``."""
    return f"{prefix}_{secrets.token_urlsafe(12)}"


def utcnow() -> datetime:
    """The current time in UTC, truncated to milliseconds as MongoDB stores it."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)
