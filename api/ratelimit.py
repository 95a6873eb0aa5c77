"""Per-API-key rate limits (token buckets), shared by HTTP and WebSocket: one bucket of
operations, and one of operation cost (``take(key, cost)``, ``api.budgets.KeyCost``).

Two implementations of one contract, ``await limiter.take(key, cost=1)`` → 0 when allowed,
else the whole seconds until ``cost`` tokens are back (a cost over the capacity: until the
bucket is full):

- ``LocalRateLimiter`` keeps the buckets in this process: the embedded store, where only one
  process can run.
- ``SharedRateLimiter`` keeps them in the database (``services/store/rate_limits.py``: one
  document per key, refilled and taken in one atomic ``findAndModify``), so every API process
  on one database draws from the same bucket and the total holds however many run. A refusal
  is remembered here until the next token is due, so a client that keeps knocking costs no
  database round trip; when the database cannot be reached the process falls back to its own
  bucket for that request (logged, counted in ``vigil_rate_limit_store_errors_total``).

Both allow ``per_minute`` tokens per key with bursts up to the same number: over any
interval of ``t`` seconds a key gets at most ``per_minute + per_minute * t / 60`` operations.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Protocol

from services.store.rate_limits import Taken

log = logging.getLogger(__name__)


class RateLimiter(Protocol):
    """What the transports call once per operation."""

    async def take(self, key: str, cost: float = 1.0) -> int:
        """Take ``cost`` tokens for ``key``: 0 when allowed, else whole seconds until they
        are back."""
        ...


class LocalRateLimiter:
    """Token buckets in this process's memory."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._capacity = float(per_minute)
        self._rate = per_minute / 60.0
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    async def take(self, key: str, cost: float = 1.0) -> int:
        """Take ``cost`` tokens for ``key`` (one operation by default): 0 when allowed, else
        whole seconds until that many are back."""
        return self.take_now(key, cost)

    def take_now(self, key: str, cost: float = 1.0) -> int:
        """``take`` without awaiting (the shared limiter's fallback)."""
        cost = min(cost, self._capacity)
        now = self._clock()
        tokens, last = self._buckets.get(key, (self._capacity, now))
        tokens = min(self._capacity, tokens + (now - last) * self._rate)
        if tokens < cost:
            self._buckets[key] = (tokens, now)
            return _wait(tokens, self._rate, cost)
        self._buckets[key] = (tokens - cost, now)
        return 0


class BucketRepo(Protocol):
    """The ``RateLimitRepository`` method ``SharedRateLimiter`` calls."""

    async def take(
        self, *, key: str, capacity: float, per_second: float, cost: float = 1.0
    ) -> Taken: ...


class SharedRateLimiter:
    """Token buckets in the database, shared by every process that uses it."""

    def __init__(
        self,
        buckets: BucketRepo,
        per_minute: int,
        *,
        on_store_error: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._buckets = buckets
        self._capacity = float(per_minute)
        self._rate = per_minute / 60.0
        self._clock = clock
        self._on_store_error = on_store_error
        self._fallback = LocalRateLimiter(per_minute, clock)
        # Keys refused here, with when their next token is due (this process's clock): no
        # take of any cost can succeed before.
        self._empty_until: dict[str, float] = {}
        self._warned_at: float | None = None

    async def take(self, key: str, cost: float = 1.0) -> int:
        """Take ``cost`` tokens for ``key``: 0 when allowed, else whole seconds until they are
        back."""
        cost = min(cost, self._capacity)
        now = self._clock()
        due = self._empty_until.get(key)
        if due is not None:
            if now < due:  # nobody can have refilled it: only time does
                return max(1, math.ceil(due - now))
            del self._empty_until[key]
        try:
            taken = await self._buckets.take(
                key=key, capacity=self._capacity, per_second=self._rate, cost=cost
            )
        except Exception:
            self._on_store_error()
            if self._warned_at is None or now - self._warned_at >= 60:  # once a minute
                self._warned_at = now
                log.exception("rate limit store unreachable; each process limits keys alone")
            return self._fallback.take_now(key, cost)
        if taken.allowed:
            return 0
        # No take of any cost can succeed before the bucket holds one token again.
        self._empty_until[key] = now + (1.0 - taken.tokens) / self._rate
        if len(self._empty_until) > 10_000:  # refused keys only; drop the ones already due
            self._empty_until = {k: t for k, t in self._empty_until.items() if t > now}
        return _wait(taken.tokens, self._rate, cost)


def _wait(tokens: float, rate: float, cost: float = 1.0) -> int:
    """Whole seconds (at least 1) until ``tokens`` reaches ``cost`` at ``rate`` per second."""
    return max(1, math.ceil((cost - tokens) / rate))
