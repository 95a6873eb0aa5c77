"""Per-API-key rate limits (token buckets, in process), shared by HTTP and WebSocket: one
bucket of operations, and one of operation cost (``take(key, cost)``)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class RateLimiter:
    """Allows ``per_minute`` operations per key with bursts up to the same number."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._capacity = float(per_minute)
        self._rate = per_minute / 60.0
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str, cost: float = 1.0) -> int:
        """Take ``cost`` tokens for ``key`` (one operation by default): 0 when allowed, else
        whole seconds until that many are back (a cost over the capacity: until it is full)."""
        cost = min(cost, self._capacity)
        now = self._clock()
        tokens, last = self._buckets.get(key, (self._capacity, now))
        tokens = min(self._capacity, tokens + (now - last) * self._rate)
        if tokens < cost:
            self._buckets[key] = (tokens, now)
            return max(1, math.ceil((cost - tokens) / self._rate))
        self._buckets[key] = (tokens - cost, now)
        return 0

    def allow(self, key: str) -> bool:
        """Take one token for ``key``; False when none is left."""
        return self.take(key) == 0
