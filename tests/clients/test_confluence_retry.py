"""RetryPolicy: which failures are retried, how long it waits, and what it reports."""

from __future__ import annotations

import random
from datetime import timedelta

import httpx
import pytest

from services.confluence import paths
from services.confluence.auth import NoAuth
from services.confluence.client import ConfluenceClient
from services.confluence.errors import (
    ConfluenceAuthError,
    ConfluenceBadRequest,
    ConfluenceForbidden,
    ConfluenceNotFound,
    ConfluenceRateLimited,
    ConfluenceUnavailable,
)
from services.confluence.retry import RetryPolicy, RetryReason, RetryStats

from .support import T0, FakeClock, FakeSleep, Router

#: The HTTP statuses a Confluence call fails on at once, without a retry, and their errors.
FINAL_STATUSES: list[tuple[int, type[Exception]]] = [
    (400, ConfluenceBadRequest),
    (401, ConfluenceAuthError),
    (403, ConfluenceForbidden),
    (404, ConfluenceNotFound),
    (500, ConfluenceUnavailable),
]

GROUPS_OK = {"results": [{"id": "g1", "name": "one"}], "_links": {"context": "/wiki"}}


def _status(status: int, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, headers=headers or {}, text="slow down")


def _ok() -> httpx.Response:
    return httpx.Response(200, json=GROUPS_OK)


async def test_retry_after_is_honoured(
    router: Router, client: ConfluenceClient, sleep: FakeSleep
) -> None:
    router.sequence("GET", paths.GROUPS, _status(429, {"Retry-After": "10"}), _ok())
    page = await client.list_groups()
    assert [g.id for g in page.items] == ["g1"]
    assert sleep.waits == [10.0]


async def test_retry_after_is_a_minimum_not_a_maximum(
    router: Router, client: ConfluenceClient, sleep: FakeSleep
) -> None:
    router.sequence(
        "GET",
        paths.GROUPS,
        _status(503),
        _status(503),
        _status(429, {"Retry-After": "1"}),
        _ok(),
    )
    await client.list_groups()
    assert sleep.waits == [0.5, 1.0, 2.0]  # backoff 2.0 beats Retry-After 1


async def test_gives_up_after_max_attempts(
    router: Router, client: ConfluenceClient, sleep: FakeSleep, stats: RetryStats
) -> None:
    router.sequence("GET", paths.GROUPS, _status(503))
    with pytest.raises(ConfluenceUnavailable):
        await client.list_groups()
    assert len(router.requests) == 5
    assert sleep.waits == [0.5, 1.0, 2.0, 4.0]
    assert stats.retries == 4
    assert stats.rate_limit_waits == 0
    assert [e.attempt for e in stats.events] == [1, 2, 3, 4]
    assert {e.reason for e in stats.events} == {RetryReason.UNAVAILABLE}


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_gateway_errors_are_retried(
    router: Router, client: ConfluenceClient, status: int
) -> None:
    router.sequence("GET", paths.GROUPS, _status(status), _ok())
    assert len((await client.list_groups()).items) == 1
    assert len(router.requests) == 2


@pytest.mark.parametrize(("status", "kind"), FINAL_STATUSES)
async def test_final_statuses_are_not_retried(
    router: Router,
    client: ConfluenceClient,
    sleep: FakeSleep,
    stats: RetryStats,
    status: int,
    kind: type[Exception],
) -> None:
    router.sequence("GET", paths.GROUPS, _status(status), _ok())
    with pytest.raises(kind):
        await client.list_groups()
    assert len(router.requests) == 1
    assert sleep.waits == []
    assert stats.retries == 0


async def test_quota_exhaustion_pauses_until_reset(
    router: Router,
    http: httpx.AsyncClient,
    sleep: FakeSleep,
    clock: FakeClock,
    stats: RetryStats,
) -> None:
    policy = RetryPolicy(sleep=sleep, clock=clock, observer=stats, max_pause=3660)
    client = ConfluenceClient(http, "https://acme.atlassian.net", NoAuth(), policy)
    reset = T0 + timedelta(minutes=45)
    quota = _status(
        429,
        {
            "RateLimit-Reason": "confluence-quota-global-based",
            "X-RateLimit-Reset": reset.isoformat().replace("+00:00", "Z"),
            "Retry-After": "5",
        },
    )
    router.sequence("GET", paths.GROUPS, quota, _ok())
    await client.list_groups()
    assert sleep.waits == [45 * 60.0]
    assert clock.now == reset
    assert stats.rate_limit_waits == 1
    assert stats.events[0].reason is RetryReason.QUOTA_EXHAUSTED
    assert stats.events[0].status == 429


async def test_quota_reset_already_past_still_backs_off(
    router: Router, client: ConfluenceClient, sleep: FakeSleep
) -> None:
    past = (T0 - timedelta(seconds=3)).isoformat()
    quota = _status(
        429, {"RateLimit-Reason": "confluence-quota-global-based", "X-RateLimit-Reset": past}
    )
    router.sequence("GET", paths.GROUPS, quota, quota, _ok())
    await client.list_groups()
    assert sleep.waits == [0.5, 1.0]  # never an immediate retry


async def test_quota_pause_longer_than_max_pause_gives_up(
    router: Router, http: httpx.AsyncClient, sleep: FakeSleep, clock: FakeClock
) -> None:
    policy = RetryPolicy(sleep=sleep, clock=clock, max_pause=600)
    client = ConfluenceClient(http, "https://acme.atlassian.net", NoAuth(), policy)
    reset = (T0 + timedelta(minutes=45)).isoformat()
    quota = _status(
        429, {"RateLimit-Reason": "confluence-quota-tenant-based", "X-RateLimit-Reset": reset}
    )
    router.sequence("GET", paths.GROUPS, quota, _ok())
    with pytest.raises(ConfluenceRateLimited) as caught:
        await client.list_groups()
    assert caught.value.quota_exhausted
    assert sleep.waits == []


async def test_retry_after_longer_than_max_pause_gives_up(
    router: Router, http: httpx.AsyncClient, sleep: FakeSleep, clock: FakeClock
) -> None:
    policy = RetryPolicy(sleep=sleep, clock=clock, max_pause=60)
    client = ConfluenceClient(http, "https://acme.atlassian.net", NoAuth(), policy)
    router.sequence("GET", paths.GROUPS, _status(429, {"Retry-After": "3600"}), _ok())
    with pytest.raises(ConfluenceRateLimited):
        await client.list_groups()
    assert sleep.waits == []


async def test_quota_without_reset_falls_back_to_retry_after(
    router: Router, client: ConfluenceClient, sleep: FakeSleep
) -> None:
    quota = _status(429, {"RateLimit-Reason": "confluence-quota-global-based", "Retry-After": "9"})
    router.sequence("GET", paths.GROUPS, quota, _ok())
    await client.list_groups()
    assert sleep.waits == [9.0]


def test_backoff_jitter_bounds() -> None:
    low = RetryPolicy(uniform=lambda lo, hi: lo)
    high = RetryPolicy(uniform=lambda lo, hi: hi)
    assert [round(low.backoff(n), 3) for n in range(1, 5)] == [0.35, 0.7, 1.4, 2.8]
    assert [round(high.backoff(n), 3) for n in range(1, 5)] == [0.65, 1.3, 2.6, 5.2]
    assert high.backoff(8) == 30.0  # 0.5 * 2**7 = 64, capped
    assert low.backoff(8) == 21.0  # the cap applies before jitter too


def test_backoff_random_jitter_stays_in_bounds() -> None:
    rng = random.Random(1234)
    policy = RetryPolicy(uniform=rng.uniform)
    for attempt in range(1, 12):
        raw = min(30.0, 0.5 * 2 ** (attempt - 1))
        for _ in range(200):
            wait = policy.backoff(attempt)
            assert 0.7 * raw <= wait <= min(30.0, 1.3 * raw)


async def test_non_retryable_calls_fail_fast(sleep: FakeSleep, clock: FakeClock) -> None:
    policy = RetryPolicy(sleep=sleep, clock=clock)
    calls = 0

    async def attempt() -> None:
        nonlocal calls
        calls += 1
        raise ConfluenceUnavailable(503, "/x", "down")

    with pytest.raises(ConfluenceUnavailable):
        await policy.run(attempt, endpoint="/x", retryable=False)
    assert calls == 1
    assert sleep.waits == []


async def test_observer_reports_each_retry_with_reason_and_wait(
    router: Router, client: ConfluenceClient, stats: RetryStats
) -> None:
    def drop(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError("connection reset")

    responses = iter(
        [
            lambda r: _status(429, {"Retry-After": "3"}),
            drop,
            lambda r: httpx.Response(200, content=b'{"results": ['),
            lambda r: _status(503),
            lambda r: _ok(),
        ]
    )
    router.add("GET", paths.GROUPS, lambda request: next(responses)(request))
    await client.list_groups()
    assert [(e.reason, e.wait_seconds) for e in stats.events] == [
        (RetryReason.RATE_LIMITED, 3.0),
        (RetryReason.CONNECTION, 1.0),
        (RetryReason.PROTOCOL, 2.0),
        (RetryReason.UNAVAILABLE, 4.0),
    ]
    assert stats.retries == 4
    assert stats.rate_limit_waits == 1
    assert stats.waited_seconds == 10.0
    assert all(e.endpoint == paths.GROUPS for e in stats.events)


def test_with_observer_returns_a_copy() -> None:
    base = RetryPolicy()
    stats = RetryStats()
    observed = base.with_observer(stats)
    assert observed.observer is stats
    assert base.observer is None


@pytest.mark.parametrize(
    "headers",
    [
        {
            "RateLimit-Reason": "confluence-quota-tenant-based",
            "X-RateLimit-Reset": "2026-11-29T11:00Z",
        },
        {
            "X-Beta-Ratelimit-Reason": "confluence-quota-tenant-based",
            "X-Beta-Ratelimit-Reset": "2026-11-29T11:00Z",
        },
        {"X-Beta-Ratelimit-Reason": "confluence-quota-global-based", "Beta-Retry-After": "2700"},
    ],
)
async def test_quota_headers_in_both_spellings_and_minute_precision(
    router: Router, client: ConfluenceClient, headers: dict[str, str]
) -> None:
    """§7: the documented names, the beta names, and X-RateLimit-Reset at minute precision."""
    router.sequence("GET", paths.GROUPS, _status(429, headers), _ok())
    with pytest.raises(ConfluenceRateLimited) as caught:  # 45 minutes: beyond max_pause
        await client.list_groups()
    assert caught.value.quota_exhausted
    assert caught.value.until == T0.replace(hour=11, minute=0)


async def test_absurd_retry_after_is_capped(router: Router, client: ConfluenceClient) -> None:
    quota = {"RateLimit-Reason": "confluence-quota-global-based", "Retry-After": "604800"}
    router.sequence("GET", paths.GROUPS, _status(429, quota), _ok())
    with pytest.raises(ConfluenceRateLimited) as caught:
        await client.list_groups()
    assert caught.value.retry_after == 3600
    assert caught.value.until == T0.replace(hour=11, minute=0)  # the top of the next hour
    router.sequence("GET", paths.GROUPS, _status(429, {"Retry-After": "604800"}), _ok())
    with pytest.raises(ConfluenceRateLimited) as burst:
        await client.list_groups()
    assert burst.value.until == T0 + timedelta(hours=1)
