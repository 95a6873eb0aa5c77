"""Time: the one place services read the wall clock, and the type of an injectable clock.

Two precisions are in use, and each caller keeps the one it had:

- ``utcnow`` (microseconds) for times that only live in memory or on the wire: cache ages,
  retry and token deadlines, scheduling, the defaults of clocks a test can replace.
- ``utcnow_ms`` (milliseconds) for times that are stored and compared after a round trip
  through MongoDB, which keeps milliseconds: a value written and read back must be equal to
  the one the service still holds (check results, evidence, reviews, policies, exceptions).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]
"""Returns the current time as an aware UTC datetime; injected so tests can move time."""

Sleep = Callable[[float], Awaitable[None]]
"""Waits that many seconds (``asyncio.sleep``); injected so tests need not wait."""


def utcnow() -> datetime:
    """The current time in UTC, at full (microsecond) precision."""
    return datetime.now(UTC)


def utcnow_ms() -> datetime:
    """The current time in UTC, truncated to milliseconds as MongoDB stores it."""
    return to_ms(utcnow())


def to_ms(when: datetime) -> datetime:
    """``when`` truncated to milliseconds (its time zone unchanged)."""
    return when.replace(microsecond=when.microsecond // 1000 * 1000)


def utc_ms(when: datetime) -> datetime:
    """``when`` as aware UTC at millisecond precision; a naive value is taken to be UTC."""
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return to_ms(when)
