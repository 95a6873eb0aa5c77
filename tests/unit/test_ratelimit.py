"""The per-key rate limit: the local bucket refills over time; the shared one asks the store
once per allowed operation, remembers a refusal until its token is due, and limits alone when
the store cannot be reached (the shared buckets themselves: tests/store/test_rate_limits.py)."""

from __future__ import annotations

import pytest

from api.ratelimit import LocalRateLimiter, SharedRateLimiter
from services.store.rate_limits import Taken


async def test_the_local_bucket_refills_over_time() -> None:
    now = [0.0]
    limiter = LocalRateLimiter(per_minute=3, clock=lambda: now[0])
    assert [await limiter.take("k") for _ in range(4)] == [0, 0, 0, 20]
    assert await limiter.take("other") == 0
    now[0] += 20.0
    assert await limiter.take("k") == 0
    assert await limiter.take("k") == 20


class Buckets:
    """A store stand-in: one bucket per key with the store's arithmetic, counting calls."""

    def __init__(self, now: list[float]) -> None:
        self.now = now
        self.calls = 0
        self.down = False
        self.state: dict[str, tuple[float, float]] = {}

    async def take(
        self, *, key: str, capacity: float, per_second: float, cost: float = 1.0
    ) -> Taken:
        self.calls += 1
        if self.down:
            raise ConnectionError("db:27017 unreachable")
        tokens, at = self.state.get(key, (capacity, self.now[0]))
        tokens = min(capacity, tokens + (self.now[0] - at) * per_second)
        allowed = tokens >= cost
        tokens = tokens - cost if allowed else tokens
        self.state[key] = (tokens, self.now[0])
        return Taken(allowed, tokens)


async def test_a_refusal_is_remembered_until_the_next_token_is_due() -> None:
    now = [0.0]
    buckets = Buckets(now)
    limiter = SharedRateLimiter(buckets, per_minute=6, clock=lambda: now[0])  # one per 10 s
    assert [await limiter.take("k") for _ in range(6)] == [0] * 6
    assert buckets.calls == 6  # one store round trip per allowed operation
    assert await limiter.take("k") == 10
    calls = buckets.calls
    now[0] += 4.0
    assert [await limiter.take("k") for _ in range(50)] == [6] * 50
    assert buckets.calls == calls  # refused from memory: nothing can refill it but time
    assert await limiter.take("other") == 0 and buckets.calls == calls + 1
    now[0] += 6.0
    assert await limiter.take("k") == 0  # the token came back; the store is asked again
    assert buckets.calls == calls + 2


async def test_without_the_store_each_process_limits_alone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    buckets = Buckets(now)
    errors: list[int] = []
    limiter = SharedRateLimiter(
        buckets, per_minute=2, clock=lambda: now[0], on_store_error=lambda: errors.append(1)
    )
    buckets.down = True
    assert [await limiter.take("k") for _ in range(3)] == [0, 0, 30]
    assert len(errors) == 3
    warnings = [r for r in caplog.records if "rate limit store unreachable" in r.message]
    assert len(warnings) == 1  # logged once a minute, not per request
