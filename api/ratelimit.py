"""Per-API-key rate limits (token buckets), shared by HTTP and WebSocket: one bucket of
operations, and one of operation cost (``take(key, cost)``, ``api.budgets.KeyCost``).

Two implementations of one contract, ``await limiter.take(key, cost=1)`` → 0 when allowed,
else the whole seconds until ``cost`` tokens are back (a cost over the capacity: until the
bucket is full):

- ``LocalRateLimiter`` keeps the buckets in this process: the embedded store, where only one
  process can run.
- ``SharedRateLimiter`` keeps them in the database (``services/store/rate_limits.py``: one
  document per key, refilled and taken in one atomic ``findAndModify``), so every API process
  on one database draws from the same bucket and the total holds however many run. A take
  from the database also takes up to a second's refill more when it is there (ADR 025): the
  process spends those without a round trip and takes the next ones in the background when
  fewer than half are left, so a steady client seldom waits on the database, however busy it
  is. A refusal is remembered here until the next token is due, so a client that keeps
  knocking costs no database round trip; when the database cannot be reached the process
  falls back to its own bucket for that request (logged, counted in
  ``vigil_rate_limit_store_errors_total``).

Both allow ``per_minute`` tokens per key with bursts up to the same number: over any
interval of ``t`` seconds a key gets at most ``per_minute + per_minute * t / 60`` operations,
and on the shared buckets what each process holds ahead besides: at most one operation's
cost, a second and a half of refill and one token per process (nothing under 60 a minute,
where nothing is taken ahead). Every operation spends a token taken from the one bucket.
"""

from __future__ import annotations

import asyncio
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

    async def stop(self) -> None:
        """Finish what runs in the background (the process is stopping)."""
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

    async def stop(self) -> None:
        """Nothing runs in the background."""

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
        self, *, key: str, capacity: float, per_second: float, cost: float = 1.0, up_to: float = 0.0
    ) -> Taken: ...


class SharedRateLimiter:
    """Token buckets in the database, shared by every process that uses it; a key's tokens
    are taken a second's worth ahead (ADR 025)."""

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
        # Whole tokens taken ahead: a second's refill (none under 60 a minute), by one take
        # of a key at a time (``_taking_ahead``), so a burst of operations at once does not
        # each take a second's worth.
        self._ahead = float(math.floor(self._rate))
        self._taking_ahead: set[str] = set()
        # Tokens of a key taken from its bucket and not spent yet.
        self._held: dict[str, float] = {}
        self._background: set[asyncio.Task[None]] = set()

    async def take(self, key: str, cost: float = 1.0) -> int:
        """Take ``cost`` tokens for ``key``: 0 when allowed, else whole seconds until they are
        back. Tokens held ahead are spent without a round trip; when fewer than half a
        second's are left, the next ones are taken in the background."""
        cost = min(cost, self._capacity)
        now = self._clock()
        held = self._held.get(key, 0.0)
        if held >= cost:  # taken before (a take ahead may come back after a refusal)
            self._held[key] = held - cost
            if held - cost < self._ahead / 2:
                self._take_ahead(key)
            return 0
        due = self._empty_until.get(key)
        if due is not None:
            if now < due:  # nobody can have refilled it: only time does
                return max(1, math.ceil(due - now))
            del self._empty_until[key]
        try:
            taken = await self._take(key, cost, ahead=self._claim_ahead(key))
        except Exception:
            self._store_error(now)
            return self._fallback.take_now(key, cost)
        if taken.allowed:
            self._hold(key, taken.granted - cost)
            return 0
        # No take of any cost can succeed before the bucket holds one token again.
        self._empty_until[key] = now + (1.0 - taken.tokens) / self._rate
        if len(self._empty_until) > 10_000:  # refused keys only; drop the ones already due
            self._empty_until = {k: t for k, t in self._empty_until.items() if t > now}
        return _wait(taken.tokens, self._rate, cost)

    async def stop(self) -> None:
        """Cancel the takes ahead still running (the process is stopping)."""
        running = list(self._background)
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    def _claim_ahead(self, key: str) -> bool:
        """Whether a take of ``key`` may take ahead: when no other take of it is doing so."""
        if not self._ahead or key in self._taking_ahead:
            return False
        self._taking_ahead.add(key)
        return True

    async def _take(self, key: str, cost: float, *, ahead: bool) -> Taken:
        """One round trip: ``cost`` tokens, and (``ahead``, claimed) up to a second's more."""
        try:
            return await self._buckets.take(
                key=key,
                capacity=self._capacity,
                per_second=self._rate,
                cost=cost,
                up_to=cost + self._ahead if ahead else 0.0,
            )
        finally:
            if ahead:
                self._taking_ahead.discard(key)

    def _hold(self, key: str, tokens: float) -> None:
        if tokens > 0:
            self._held[key] = self._held.get(key, 0.0) + tokens
            if len(self._held) > 10_000:  # the keys held longest go (their tokens are lost)
                for dropped in list(self._held)[:5_000]:
                    del self._held[dropped]

    def _take_ahead(self, key: str) -> None:
        """Take ``key``'s next tokens in the background, unless a take of it already is."""
        if not self._claim_ahead(key):
            return

        async def take_ahead() -> None:
            try:
                self._hold(key, (await self._take(key, 1.0, ahead=True)).granted)
            except Exception:
                self._store_error(self._clock())

        task = asyncio.get_running_loop().create_task(take_ahead())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _store_error(self, now: float) -> None:
        self._on_store_error()
        if self._warned_at is None or now - self._warned_at >= 60:  # once a minute
            self._warned_at = now
            log.exception("rate limit store unreachable; each process limits keys alone")


def _wait(tokens: float, rate: float, cost: float = 1.0) -> int:
    """Whole seconds (at least 1) until ``tokens`` reaches ``cost`` at ``rate`` per second."""
    return max(1, math.ceil((cost - tokens) / rate))
