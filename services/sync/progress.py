"""A run's live progress: counted per page and per retry, published on the bus, persisted.

Every page publishes the run (with its progress) on ``topic_for(org, "sync")``; the run
document is updated at phase changes and at most every ``persist_interval`` seconds. Those
updates are fenced: when one is refused the run has lost its lease and ``LeaseLost`` stops it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field, replace
from typing import Protocol

from services.confluence.retry import RetryEvent
from services.events import EventBus, topic_for
from services.sync.events import run_event
from services.sync.models import Phase, SyncProgress, SyncRun

SYNC_CHANNEL = "sync"


class LeaseLost(Exception):
    """The run's lease was taken over: it must stop writing."""


DISCONNECTED_DURING_RUN = (
    "Stopped: the integration was disconnected during the run; nothing it read was kept."
)


class Disconnected(Exception):
    """The integration was disconnected while its run worked: the run stops calling
    Atlassian and keeps nothing. A person's decision, not a failure to alert on."""

    def __init__(self, message: str = DISCONNECTED_DURING_RUN) -> None:
        super().__init__(message)


class SyncMetrics(Protocol):
    """Where sync counters go (Prometheus in the API process)."""

    def run_finished(self, purpose: str, outcome: str) -> None:
        """A run ended with ``outcome`` (SUCCEEDED, FAILED)."""

    def confluence_call(self, status: str) -> None:
        """One HTTP attempt to Atlassian ended with ``status`` ("200", "429", "error")."""

    def rate_limit_wait(self, seconds: float) -> None:
        """The run waited ``seconds`` because of a rate limit."""


class NullSyncMetrics:
    """Metrics that go nowhere (CLI, tests)."""

    def run_finished(self, purpose: str, outcome: str) -> None:
        """Ignored."""

    def confluence_call(self, status: str) -> None:
        """Ignored."""

    def rate_limit_wait(self, seconds: float) -> None:
        """Ignored."""


class RunProgressRepo(Protocol):
    """The ``SyncRunRepository`` method ``ProgressTracker`` calls."""

    async def update_progress(self, *, run_id: str, fence: int, progress: SyncProgress) -> bool: ...


@dataclass(eq=False, repr=False)
class ProgressTracker:
    """Counts a run's requests, items, retries and rate-limit waits, and reports them."""

    run: SyncRun
    runs: RunProgressRepo
    bus: EventBus
    metrics: SyncMetrics
    _: KW_ONLY
    persist_interval: float = 0.5
    monotonic: Callable[[], float] = time.monotonic
    _last_persist: float = field(init=False)
    phase: str = field(init=False, default=Phase.STARTING.value)
    requests: int = field(init=False, default=0)
    items: int = field(init=False, default=0)
    retries: int = field(init=False, default=0)
    waits: int = field(init=False, default=0)
    memberships: int = field(init=False, default=0)
    warnings: list[str] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self._last_persist = self.monotonic()

    def progress(self) -> SyncProgress:
        """The counters now."""
        return SyncProgress(self.phase, self.requests, self.items, self.retries, self.waits)

    def current(self) -> SyncRun:
        """The run with its current progress."""
        return replace(self.run, progress=self.progress(), warnings=tuple(self.warnings))

    def warn(self, message: str) -> None:
        """Something was skipped: recorded in the run when it ends."""
        if message not in self.warnings:
            self.warnings.append(message)

    def observe_retry(self, event: RetryEvent) -> None:
        """RetryObserver: a failed attempt that will be retried (counted as a request)."""
        self.requests += 1
        self.retries += 1
        self.metrics.confluence_call(str(event.status) if event.status else "error")
        if event.rate_limited:
            self.waits += 1
            self.metrics.rate_limit_wait(event.wait_seconds)

    async def enter(self, phase: Phase) -> None:
        """Start a phase: persisted and published at once."""
        self.phase = phase.value
        await self._persist()
        await self.publish()

    async def page(self, items: int) -> None:
        """A successful request brought ``items`` items (PageCounter)."""
        self.requests += 1
        self.items += items
        self.metrics.confluence_call("200")
        if self.monotonic() - self._last_persist >= self.persist_interval:
            await self._persist()
        await self.publish()

    def failed_call(self, status: int | None) -> None:
        """The final attempt of a request failed (not retried)."""
        self.requests += 1
        self.metrics.confluence_call(str(status) if status else "error")

    async def publish(self, run: SyncRun | None = None) -> None:
        """Publish the run (default: as now) to the organization's sync channel."""
        run = run or self.current()
        await self.bus.publish(topic_for(run.organization_id, SYNC_CHANNEL), run_event(run))

    async def _persist(self) -> None:
        self._last_persist = self.monotonic()
        assert self.run.fence is not None
        ours = await self.runs.update_progress(
            run_id=self.run.id, fence=self.run.fence, progress=self.progress()
        )
        if not ours:
            raise LeaseLost(f"sync run {self.run.id} was taken over by another worker")
