"""The per-key rate limit: the local bucket refills over time; the shared one asks the store
once per allowed operation under 60 a minute and takes a second's refill ahead above it
(ADR 025), remembers a refusal until its token is due, and limits alone when the store cannot
be reached (the shared buckets themselves: tests/store/test_rate_limits.py)."""

from __future__ import annotations

import asyncio

import pytest

from api.ratelimit import LocalRateLimiter, SharedRateLimiter
from services.store.rate_limits import Taken
from testkit.conditions import until


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
        self.granted = 0.0  # tokens taken from every bucket, in all
        self.gate = asyncio.Event()  # cleared: takes wait (a busy database)
        self.gate.set()

    async def take(
        self, *, key: str, capacity: float, per_second: float, cost: float = 1.0, up_to: float = 0.0
    ) -> Taken:
        self.calls += 1
        if self.down:
            raise ConnectionError("db:27017 unreachable")
        await self.gate.wait()
        tokens, at = self.state.get(key, (capacity, self.now[0]))
        tokens = min(capacity, tokens + (self.now[0] - at) * per_second)
        granted = min(tokens, max(cost, up_to)) if tokens >= cost else 0.0
        self.granted += granted
        self.state[key] = (tokens - granted, self.now[0])
        return Taken(granted > 0, tokens - granted, granted)


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


async def test_a_cost_is_taken_whole_and_a_refused_cost_does_not_block_a_smaller_one() -> None:
    now = [0.0]
    buckets = Buckets(now)
    limiter = SharedRateLimiter(buckets, per_minute=6, clock=lambda: now[0])  # 0.1 per second
    assert await limiter.take("cost:k", 4) == 0  # 6 -> 2
    assert await limiter.take("cost:k", 4) == 20  # 2 of 4: 20 s until the rest is back
    assert await limiter.take("cost:k", 1) == 0  # one is there: not refused from memory
    assert await limiter.take("cost:k", 100) == 50  # over the capacity: until it is full
    local = LocalRateLimiter(6, clock=lambda: now[0])
    assert [await local.take("k", 4), await local.take("k", 4), await local.take("k", 2)] == [
        0,
        20,
        0,
    ]


async def test_a_second_is_taken_ahead_and_spent_without_a_round_trip() -> None:
    now = [0.0]
    buckets = Buckets(now)
    limiter = SharedRateLimiter(buckets, per_minute=600, clock=lambda: now[0])  # 10 a second
    buckets.gate.clear()  # the database is busy: takes ahead wait, operations must not
    first = asyncio.create_task(limiter.take("k"))
    await until(lambda: buckets.calls == 1, what="the first take to reach the database")
    assert not first.done()  # nothing held yet: the first operation waits for its token
    buckets.gate.set()
    assert await first == 0 and buckets.granted == 11  # its token and a second's more
    buckets.gate.clear()
    assert [await limiter.take("k") for _ in range(5)] == [0] * 5  # held: no round trip
    assert buckets.calls == 1
    assert await limiter.take("k") == 0  # 4 left, under half a second's: the next, behind
    await until(lambda: buckets.calls == 2, what="the take ahead to reach the database")
    assert [await limiter.take("k") for _ in range(4)] == [0] * 4  # while that take waits
    buckets.gate.set()
    await until(lambda: buckets.granted == 22, what="the take ahead to come back")
    assert [await limiter.take("k") for _ in range(11)] == [0] * 11
    await limiter.stop()


async def test_operations_never_outnumber_the_tokens_taken_from_the_one_bucket() -> None:
    """Two processes (limiters) on one bucket, many operations at once: every allowed one
    spent a token the bucket gave, and what the bucket gave is its own bound."""
    now = [0.0]
    buckets = Buckets(now)
    limiters = [SharedRateLimiter(buckets, per_minute=120, clock=lambda: now[0]) for _ in "ab"]
    allowed = 0
    for second in range(5):
        now[0] = float(second)
        waits = await asyncio.gather(*(limiters[i % 2].take("k") for i in range(100)))
        allowed += waits.count(0)
    for limiter in limiters:
        await limiter.stop()
    held = sum(limiter._held.get("k", 0.0) for limiter in limiters)
    assert allowed + held == buckets.granted  # nothing spent that was not taken
    assert buckets.granted <= 120 + 2 * 4  # the bucket: capacity + 4 s of refill at 2 a second
    assert allowed >= 120 + 2 * 4 - 2 * (1 + 1.5 * 2 + 1)  # at most what two processes hold is idle


async def test_tokens_a_take_ahead_brings_back_are_spent_even_after_a_refusal() -> None:
    now = [0.0]
    buckets = Buckets(now)
    limiter = SharedRateLimiter(buckets, per_minute=120, clock=lambda: now[0])  # 2 ahead
    buckets.state["k"] = (3.0, 0.0)
    assert [await limiter.take("k") for _ in range(2)] == [0, 0]  # 3 taken at once, 1 left
    buckets.gate.clear()
    assert await limiter.take("k") == 0  # the last one held: the next are taken ahead
    await until(lambda: buckets.calls == 2, what="the take ahead to reach the database")
    buckets.state["k"] = (1.5, 0.0)  # what the bucket will hold when the take is served
    refused = asyncio.create_task(limiter.take("k"))  # nothing held: a take of its own
    await until(lambda: buckets.calls == 3, what="the second take to reach the database")
    buckets.gate.set()  # the take ahead is served first (1.5 tokens), then this one: none
    assert await refused == 1
    assert await limiter.take("k") == 0  # the 1.5 brought back: spent, refusal or not
    assert buckets.calls == 3
