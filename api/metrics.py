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
        self.subscribers = Gauge(
            "vigil_event_subscribers", "Live event-bus subscribers", registry=self.registry
        )
        self.subscribers.set_function(lambda: float(subscriber_count()))

    def render(self) -> bytes:
        """The exposition text."""
        return generate_latest(self.registry)
