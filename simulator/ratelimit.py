"""Hourly points quotas per tenant and the X-RateLimit-* headers (confluence-api.md §7)."""

from __future__ import annotations

import math
import threading
from datetime import UTC, datetime

from simulator.clock import SimClock
from simulator.faults import next_hour
from simulator.model import iso

NOMINAL_LIMIT = 65000
POINTS_PER_OBJECT = {"content": 1, "user": 2, "group": 2, "space": 1}


class QuotaTracker:
    """Points used per tenant in the current UTC hour: 1 per request plus per-object costs."""

    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._used: dict[str, int] = {}
        self._window_end: datetime | None = None

    def _roll(self, now: datetime) -> None:
        if self._window_end is None or now >= self._window_end:
            self._used.clear()
            self._window_end = next_hour(now)

    def used(self, tenant: str) -> int:
        """Points the tenant used this hour."""
        with self._lock:
            self._roll(self.clock.now())
            return self._used.get(tenant, 0)

    def charge(self, tenant: str, points: int) -> int:
        """Add points; returns the tenant's total for this hour."""
        with self._lock:
            self._roll(self.clock.now())
            self._used[tenant] = self._used.get(tenant, 0) + points
            return self._used[tenant]

    def reset(self) -> None:
        """Forget all usage."""
        with self._lock:
            self._used.clear()
            self._window_end = None

    def window_end(self) -> datetime:
        """When the current hourly window resets."""
        with self._lock:
            self._roll(self.clock.now())
            assert self._window_end is not None
            return self._window_end


def reset_stamp(reset_at: datetime) -> str:
    """``X-RateLimit-Reset``: ISO time at minute precision (``yyyy-MM-ddTHH:mmZ``, §7); a
    test's sub-minute quota window keeps its seconds (Atlassian's windows are hourly)."""
    if reset_at.second or reset_at.microsecond:
        return iso(reset_at) or ""
    return reset_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def usage_headers(limit: int, used: int, reset_at: datetime) -> dict[str, str]:
    """X-RateLimit-* headers for a response after `used` points of `limit`."""
    remaining = max(0, limit - used)
    headers = {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": reset_stamp(reset_at),
    }
    if remaining < limit * 0.2:
        headers["X-RateLimit-NearLimit"] = "true"
    return headers


def quota_headers(
    limit: int, reset_at: datetime, now: datetime, reason: str, *, beta: bool = False
) -> dict[str, str]:
    """Headers of a quota-exhausted 429: Retry-After until the reset, RateLimit-Reason.

    ``beta``: the names seen during the points roll-out instead (§7): X-Beta-Ratelimit-Reason,
    X-Beta-Ratelimit-Reset, Beta-Retry-After (no documented RateLimit-Reason, Retry-After or
    X-RateLimit-Reset)."""
    headers = usage_headers(limit, limit, reset_at)
    retry_after = str(max(1, math.ceil((reset_at - now).total_seconds())))
    if beta:
        headers["X-Beta-Ratelimit-Reason"] = reason
        headers["X-Beta-Ratelimit-Reset"] = headers.pop("X-RateLimit-Reset")
        headers["Beta-Retry-After"] = retry_after
        return headers
    headers["Retry-After"] = retry_after
    headers["RateLimit-Reason"] = reason
    return headers
