"""The shared rate-limit buckets on the wire server: one bucket per key whatever the number of
clients taking from it at once, refilled by the server's clock, expiring when full again."""

from __future__ import annotations

import asyncio
import time

import pytest

from api.ratelimit import SharedRateLimiter
from services.store import Store
from testkit.conditions import until

pytestmark = pytest.mark.wire


async def test_concurrent_takes_from_two_clients_share_one_bucket(
    two_wire_clients: tuple[Store, Store],
) -> None:
    stores = two_wire_clients
    capacity, per_second = 25, 0.01
    started = time.monotonic()
    taken = await asyncio.gather(
        *(
            stores[i % 2].rate_limits.take(key="key_a", capacity=capacity, per_second=per_second)
            for i in range(80)
        )
    )
    elapsed = time.monotonic() - started
    allowed = sum(t.allowed for t in taken)
    # A single bucket: the capacity, plus what the elapsed time refilled (under one token).
    assert capacity <= allowed <= capacity + int(per_second * elapsed), (allowed, elapsed)
    assert all(t.tokens < 1 for t in taken if not t.allowed)
    other = await stores[1].rate_limits.take(key="key_b", capacity=capacity, per_second=1)
    assert other.allowed and other.tokens == capacity - 1  # another key: its own full bucket

    # First takes of new keys race to create their buckets: each take is one token, answered.
    raced = await asyncio.gather(
        *(
            store.rate_limits.take(key=f"new_{n}", capacity=10, per_second=0.001)
            for n in range(20)
            for store in (*stores, *stores)
        )
    )
    assert all(t.allowed for t in raced)
    for n in range(20):
        after = await stores[n % 2].rate_limits.take(key=f"new_{n}", capacity=10, per_second=0.001)
        assert 5 <= after.tokens < 5.1, (n, after)  # 10 - 4 - 1, and what 0.001/s refilled


async def test_tokens_come_back_with_time_and_buckets_expire(
    two_wire_clients: tuple[Store, Store],
) -> None:
    first, second = two_wire_clients
    assert (await first.rate_limits.take(key="k", capacity=1, per_second=5)).allowed
    refused = await second.rate_limits.take(key="k", capacity=1, per_second=5)
    assert not refused.allowed and refused.tokens < 1

    async def allowed_again() -> bool:
        return (await second.rate_limits.take(key="k", capacity=1, per_second=5)).allowed

    await until(allowed_again, what="a token refilled by the server's clock", timeout=10)
    indexes = await first._db["rate_limits"].index_information()
    ttl = [i for i in indexes.values() if i["key"] == [("expires_at", 1)]]
    assert ttl and ttl[0]["expireAfterSeconds"] == 0
    doc = await first._db["rate_limits"].find_one({"_id": "k"})
    assert doc is not None and doc["expires_at"].timestamp() > time.time()


async def test_a_cost_is_taken_whole_or_not_at_all(two_wire_clients: tuple[Store, Store]) -> None:
    first, second = two_wire_clients
    # Refilled at 0.001 per second: nothing comes back within the test.
    taken = await first.rate_limits.take(key="cost:k", capacity=10, per_second=0.001, cost=7)
    assert taken.allowed and 2.9 < taken.tokens < 3.1
    refused = await second.rate_limits.take(key="cost:k", capacity=10, per_second=0.001, cost=4)
    assert not refused.allowed and 2.9 < refused.tokens < 3.1  # nothing taken
    rest = await second.rate_limits.take(key="cost:k", capacity=10, per_second=0.001, cost=3)
    assert rest.allowed and rest.tokens < 0.1


async def test_a_take_takes_more_up_to_what_is_asked_when_it_is_there(
    two_wire_clients: tuple[Store, Store],
) -> None:
    """What ``api.ratelimit`` holds ahead (ADR 025): ``cost`` whole, and up to ``up_to``."""
    first, second = two_wire_clients
    take = {"capacity": 10, "per_second": 0.001}  # nothing comes back within the test
    more = await first.rate_limits.take(key="k", **take, cost=1, up_to=4)
    assert more.allowed and more.granted == 4 and 5.9 < more.tokens < 6.1
    rest = await second.rate_limits.take(key="k", **take, cost=2, up_to=9)
    assert rest.allowed and 5.9 < rest.granted < 6.1 and rest.tokens < 0.1  # what was there
    refused = await first.rate_limits.take(key="k", **take, cost=1, up_to=5)
    assert not refused.allowed and refused.granted == 0 and refused.tokens < 0.1
    plain = await second.rate_limits.take(key="other", **take)
    assert plain.allowed and plain.granted == 1 and 8.9 < plain.tokens < 9.1  # cost alone


async def test_two_processes_taking_ahead_stay_within_the_one_bucket(
    two_wire_clients: tuple[Store, Store],
) -> None:
    """``SharedRateLimiter`` on two connections (two processes), 300 operations at once at
    120 a minute (2 tokens taken ahead by one take of the key at a time): no more are
    allowed than the bucket's capacity and refill, and at most what the two hold ahead is
    left unspent."""
    limiters = [SharedRateLimiter(store.rate_limits, per_minute=120) for store in two_wire_clients]
    started = time.monotonic()
    waits = await asyncio.gather(*(limiters[i % 2].take("key_c") for i in range(300)))
    elapsed = time.monotonic() - started
    for limiter in limiters:
        await limiter.stop()
    allowed = waits.count(0)
    assert allowed <= 120 + int(2 * elapsed), (allowed, elapsed)
    assert allowed >= 120 - 2 * (1 + 1.5 * 2 + 1), allowed  # one cost, 1.5 s and a token each
    assert all(w >= 1 for w in waits if w != 0)
