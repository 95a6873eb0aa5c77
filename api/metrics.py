"""Prometheus metrics, one registry per app instance (tests build many apps)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]


class Metrics:
    """The counters and gauges Vigil exposes at ``/metrics``."""

    def __init__(self, subscriber_count: Callable[[], int]) -> None:
        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "vigil_http_requests_total",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "vigil_rate_limited_total",
            "Requests refused by the per-key rate limit",
            registry=self.registry,
        )
        self.rate_limit_store_errors = Counter(
            "vigil_rate_limit_store_errors_total",
            "Rate-limit checks that could not reach the shared buckets (limited per process)",
            registry=self.registry,
        )
        self.sync_runs = Counter(
            "vigil_sync_runs_total",
            "Finished sync runs by purpose and outcome",
            ["purpose", "outcome"],
            registry=self.registry,
        )
        self.confluence_calls = Counter(
            "vigil_confluence_calls_total",
            "HTTP attempts to Confluence/Atlassian during syncs, by status ('error': no response)",
            ["status"],
            registry=self.registry,
        )
        self.rate_limit_waits = Counter(
            "vigil_rate_limit_waits_total",
            "Waits caused by Atlassian rate limits (429, exhausted quota)",
            registry=self.registry,
        )
        self.rate_limit_wait_seconds = Counter(
            "vigil_rate_limit_wait_seconds_total",
            "Seconds spent waiting on Atlassian rate limits",
            registry=self.registry,
        )
        self.subscribers = Gauge(
            "vigil_event_subscribers", "Live event-bus subscribers", registry=self.registry
        )
        self.subscribers.set_function(lambda: float(subscriber_count()))

    def run_finished(self, purpose: str, outcome: str) -> None:
        """A sync run ended (SyncMetrics)."""
        self.sync_runs.labels(purpose, outcome).inc()

    def confluence_call(self, status: str) -> None:
        """One HTTP attempt to Atlassian ended (SyncMetrics)."""
        self.confluence_calls.labels(status).inc()

    def rate_limit_wait(self, seconds: float) -> None:
        """A sync waited on a rate limit (SyncMetrics)."""
        self.rate_limit_waits.inc()
        self.rate_limit_wait_seconds.inc(seconds)

    def render(self) -> bytes:
        """The exposition text."""
        return generate_latest(self.registry)
