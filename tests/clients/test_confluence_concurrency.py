"""The per-integration concurrency limit: never more than N requests in flight."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from services.confluence import paths
from services.confluence.retry import RetryPolicy

from .support import Router, make_client


class Slow:
    """A route answering an empty page after ``turns`` turns of the event loop, counting the
    requests in flight and their peak."""

    def __init__(self, turns: int) -> None:
        self.turns = turns
        self.in_flight = 0
        self.peak = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        for _ in range(self.turns):
            await asyncio.sleep(0)
        self.in_flight -= 1
        return httpx.Response(200, json={"results": [], "_links": {}})


@pytest.mark.parametrize("limit", [1, 3, 8])
async def test_never_more_than_limit_in_flight(
    router: Router, http: httpx.AsyncClient, policy: RetryPolicy, limit: int
) -> None:
    slow = Slow(turns=5)
    router.add("GET", paths.GROUP_MEMBERS.format(group_id="g1"), slow)
    client = make_client(http, policy, max_concurrency=limit)
    await asyncio.gather(*(client.list_group_members("g1") for _ in range(30)))
    assert len(router.requests) == 30
    assert slow.peak == limit


async def test_default_limit_is_eight(
    router: Router, http: httpx.AsyncClient, policy: RetryPolicy
) -> None:
    slow = Slow(turns=2)
    router.add("GET", paths.GROUPS, slow)
    client = make_client(http, policy)
    await asyncio.gather(*(client.list_groups() for _ in range(20)))
    assert slow.peak == 8


async def test_slot_is_released_while_waiting_to_retry(
    router: Router, http: httpx.AsyncClient
) -> None:
    """A request backing off does not hold a slot, so other reads proceed meanwhile."""
    release = asyncio.Event()
    calls = 0

    async def wait_sleep(seconds: float) -> None:
        await release.wait()

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            return httpx.Response(503)
        return httpx.Response(200, json={"results": []})

    router.add("GET", paths.GROUPS, handler)
    policy = RetryPolicy(sleep=wait_sleep, uniform=lambda lo, hi: 1.0)
    client = make_client(http, policy, max_concurrency=1)
    backing_off = asyncio.create_task(client.list_groups())
    while calls < 1:
        await asyncio.sleep(0)
    await asyncio.wait_for(client.list_groups(), 1)
    release.set()
    await backing_off
    assert calls == 3


def test_invalid_limit(http: httpx.AsyncClient, policy: RetryPolicy) -> None:
    with pytest.raises(ValueError, match="max_concurrency"):
        make_client(http, policy, max_concurrency=0)
