"""Retry and rate-limit policy for idempotent reads, with injected sleep, clock and randomness.

Retried: 429, 502/503/504, timeouts, dropped connections and truncated bodies — only for
reads (GET, and the POSTs that are reads: users-bulk, Admin directory search).
Never retried: 400/401/403/404 and other statuses.

Wait before attempt n+1: ``min(max_delay, base_delay * factor**(n-1)) * uniform(0.7, 1.3)``
(capped again at ``max_delay``), but at least the server's ``Retry-After``, and when the hourly
quota is exhausted (``RateLimit-Reason: …quota…`` with ``X-RateLimit-Reset``, or their beta
names) at least until the reset. A wait longer than ``max_pause`` (two minutes) is not worth
holding a worker for: the error is raised, and a sync run ends saying until when Atlassian
refuses ("quota exhausted until HH:MM UTC"); the scheduler does not retry before then.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from enum import StrEnum
from typing import TypeVar

from services.clock import Clock, Sleep, utcnow
from services.confluence.errors import (
    ConfluenceConnectionError,
    ConfluenceError,
    ConfluenceProtocolError,
    ConfluenceRateLimited,
    ConfluenceTimeout,
    ConfluenceUnavailable,
)

T = TypeVar("T")
Uniform = Callable[[float, float], float]

_RETRYABLE_5XX = frozenset({502, 503, 504})


class RetryReason(StrEnum):
    """Why an attempt is retried."""

    RATE_LIMITED = "rate_limited"
    QUOTA_EXHAUSTED = "quota_exhausted"
    UNAVAILABLE = "unavailable"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    PROTOCOL = "protocol"


@dataclass(frozen=True, slots=True)
class RetryEvent:
    """One retry: the attempt that failed, why, and how long the policy waits before the next."""

    endpoint: str
    attempt: int
    reason: RetryReason
    wait_seconds: float
    status: int | None

    @property
    def rate_limited(self) -> bool:
        """True when the wait is a rate-limit wait (429 or exhausted quota)."""
        return self.reason in (RetryReason.RATE_LIMITED, RetryReason.QUOTA_EXHAUSTED)


RetryObserver = Callable[[RetryEvent], None]


@dataclass(slots=True)
class RetryStats:
    """An observer that counts retries and rate-limit waits (e.g. for sync progress)."""

    retries: int = 0
    rate_limit_waits: int = 0
    waited_seconds: float = 0.0
    events: list[RetryEvent] = field(default_factory=list)

    def __call__(self, event: RetryEvent) -> None:
        """Record one retry."""
        self.retries += 1
        self.rate_limit_waits += event.rate_limited
        self.waited_seconds += event.wait_seconds
        self.events.append(event)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded retries with exponential backoff and jitter; see the module docstring."""

    max_attempts: int = 5
    base_delay: float = 0.5
    factor: float = 2.0
    max_delay: float = 30.0
    jitter: tuple[float, float] = (0.7, 1.3)
    max_pause: float = 120.0
    sleep: Sleep = asyncio.sleep
    clock: Clock = utcnow
    uniform: Uniform = random.uniform
    observer: RetryObserver | None = None

    def with_observer(self, observer: RetryObserver | None) -> RetryPolicy:
        """The same policy reporting to ``observer``."""
        return replace(self, observer=observer)

    def backoff(self, attempt: int) -> float:
        """Jittered exponential delay after failed attempt ``attempt`` (1-based), capped."""
        raw = min(self.max_delay, self.base_delay * self.factor ** (attempt - 1))
        return min(self.max_delay, raw * self.uniform(*self.jitter))

    def delay_for(self, error: ConfluenceError, attempt: int) -> float | None:
        """Seconds to wait before retrying after ``error`` on ``attempt``; None means give up."""
        if attempt >= self.max_attempts or retry_reason(error) is None:
            return None
        wait = self.backoff(attempt)
        hinted = getattr(error, "retry_after", None)
        if isinstance(hinted, float | int):
            wait = max(wait, hinted)
        if isinstance(error, ConfluenceRateLimited) and error.quota_exhausted and error.until:
            # The backoff stays a floor: a reset already past (clock skew, or a reset header
            # rounded to the minute) must not turn into a burst of immediate retries.
            wait = max(wait, (error.until - self.clock()) / timedelta(seconds=1))
        return wait if wait <= self.max_pause else None

    async def run(
        self, attempt_fn: Callable[[], Awaitable[T]], *, endpoint: str, retryable: bool = True
    ) -> T:
        """Await ``attempt_fn`` until it succeeds, the error is final, or attempts run out."""
        attempt = 1
        while True:
            try:
                return await attempt_fn()
            except ConfluenceError as error:
                wait = self.delay_for(error, attempt) if retryable else None
                if wait is None:
                    raise
                self._report(error, endpoint, attempt, wait)
            await self.sleep(wait)
            attempt += 1

    def _report(self, error: ConfluenceError, endpoint: str, attempt: int, wait: float) -> None:
        reason = retry_reason(error)
        if self.observer is not None and reason is not None:
            status = getattr(error, "status", None)
            self.observer(RetryEvent(endpoint, attempt, reason, wait, status))


def retry_reason(error: ConfluenceError) -> RetryReason | None:
    """Why ``error`` is worth retrying, or None when it is final."""
    if isinstance(error, ConfluenceRateLimited):
        quota = error.quota_exhausted
        return RetryReason.QUOTA_EXHAUSTED if quota else RetryReason.RATE_LIMITED
    if isinstance(error, ConfluenceUnavailable):
        return RetryReason.UNAVAILABLE if error.status in _RETRYABLE_5XX else None
    reasons: list[tuple[type[ConfluenceError], RetryReason]] = [
        (ConfluenceTimeout, RetryReason.TIMEOUT),
        (ConfluenceConnectionError, RetryReason.CONNECTION),
        (ConfluenceProtocolError, RetryReason.PROTOCOL),
    ]
    return next((reason for kind, reason in reasons if isinstance(error, kind)), None)
