"""Prometheus metrics, one registry per app instance (tests build many apps)."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Mapping, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from api.runtime import COLLECTOR_PAUSES

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]


class Metrics:
    """The counters and gauges Vigil exposes at ``/metrics``."""

    def __init__(
        self,
        subscriber_count: Callable[[], int],
        refused_documents: Mapping[str, int] | None = None,
    ) -> None:
        self.registry = CollectorRegistry()
        # The store's own count of documents it refused to write (``DocumentGuard``), by
        # collection: read at each scrape.
        self.registry.register(
            _RefusedDocuments(refused_documents if refused_documents is not None else {})
        )
        self.registry.register(_Collector())

        def counter(name: str, documentation: str, labels: Sequence[str] = ()) -> Counter:
            return Counter(name, documentation, labels, registry=self.registry)

        self.http_requests = counter(
            "vigil_http_requests_total",
            "HTTP requests by route and status",
            ["method", "route", "status"],
        )
        self.rate_limited = counter(
            "vigil_rate_limited_total", "Requests refused by the per-key rate limit"
        )
        self.rate_limit_store_errors = counter(
            "vigil_rate_limit_store_errors_total",
            "Rate-limit checks that could not reach the shared buckets (limited per process)",
        )
        self.sync_runs = counter(
            "vigil_sync_runs_total",
            "Finished sync runs by purpose and outcome",
            ["purpose", "outcome"],
        )
        self.confluence_calls = counter(
            "vigil_confluence_calls_total",
            "HTTP attempts to Confluence/Atlassian during syncs, by status ('error': no response)",
            ["status"],
        )
        self.rate_limit_waits = counter(
            "vigil_rate_limit_waits_total",
            "Waits caused by Atlassian rate limits (429, exhausted quota)",
        )
        self.rate_limit_wait_seconds = counter(
            "vigil_rate_limit_wait_seconds_total", "Seconds spent waiting on Atlassian rate limits"
        )
        self.alerts = counter(
            "vigil_alerts_total",
            "Alerts recorded (once per change, for organizations with an enabled channel), by kind",
            ["kind"],
        )
        self.alert_deliveries = counter(
            "vigil_alert_deliveries_total",
            "Alert deliveries by channel kind and outcome: sent, failed (one failed attempt), "
            "dead_lettered",
            ["channel_kind", "outcome"],
        )
        self.watch_events_total = counter(
            "vigil_change_watch_events_total", "Distinct audit events the change watch read"
        )
        self.watch_ignored = counter(
            "vigil_change_watch_ignored_total",
            "Audit events the change watch ignored, by reason (OTHER_SITE, NOT_ACCESS, "
            "NAMES_NOTHING, DUPLICATE)",
            ["reason"],
        )
        self.watch_refreshes = counter(
            "vigil_change_watch_refreshes_total",
            "Refreshes the change watch asked for, by outcome",
            ["outcome"],
        )
        self.watch_comparisons = counter(
            "vigil_change_watch_comparisons_total",
            "Full syncs compared with the snapshot targeted runs built, by outcome (equal, "
            "explained: every difference explained by later events, different)",
            ["outcome"],
        )
        self.watch_differences = counter(
            "vigil_change_watch_differences_total",
            "Accounts on which a full sync and the targeted runs' snapshot differ with no "
            "event to explain it (zero expected; each is logged as an error)",
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

    def alert_recorded(self, kind: str) -> None:
        """An alert was recorded (AlertMetrics)."""
        self.alerts.labels(kind).inc()

    def alert_delivery(self, channel_kind: str, outcome: str) -> None:
        """A delivery attempt ended (AlertMetrics)."""
        self.alert_deliveries.labels(channel_kind, outcome).inc()

    def watch_events(self, seen: int, ignored: Mapping[str, int]) -> None:
        """Events the change watch read, and those it ignored (WatchMetrics)."""
        self.watch_events_total.inc(seen)
        for reason, count in ignored.items():
            self.watch_ignored.labels(reason).inc(count)

    def watch_refresh(self, outcome: str) -> None:
        """A refresh the change watch asked for ended (WatchMetrics)."""
        self.watch_refreshes.labels(outcome).inc()

    def watch_comparison(self, differences: int, unexplained: int) -> None:
        """A full sync compared with the targeted runs' snapshot (WatchMetrics)."""
        outcome = "different" if unexplained else ("explained" if differences else "equal")
        self.watch_comparisons.labels(outcome).inc()
        self.watch_differences.inc(unexplained)

    def render(self) -> bytes:
        """The exposition text."""
        return generate_latest(self.registry)


class _RefusedDocuments(Collector):
    """``vigil_store_documents_refused_total{collection}`` from the store guard's counts."""

    def __init__(self, counts: Mapping[str, int]) -> None:
        self._counts = counts

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "vigil_store_documents_refused",
            "Documents the store refused to write because they were over "
            "VIGIL_MAX_DOCUMENT_BYTES, by collection",
            labels=["collection"],
        )
        for collection, count in sorted(self._counts.items()):
            family.add_metric([collection], count)
        yield family


class _Collector(Collector):
    """The process's cyclic garbage collector (ADR 024), read at each scrape: its thresholds,
    collections and objects frozen out of them, and (in ``vigil serve`` and ``vigil worker``,
    which record them) the seconds its collections held the process, by generation."""

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        threshold = GaugeMetricFamily(
            "vigil_gc_threshold", "The collector's threshold, by generation", labels=["generation"]
        )
        collections = CounterMetricFamily(
            "vigil_gc_collections", "Collections run, by generation", labels=["generation"]
        )
        states = zip(gc.get_threshold(), gc.get_stats(), strict=True)
        for generation, (limit, stats) in enumerate(states):
            threshold.add_metric([str(generation)], limit)
            collections.add_metric([str(generation)], stats["collections"])
        yield threshold
        yield collections
        yield GaugeMetricFamily(
            "vigil_gc_frozen_objects",
            "Objects frozen at start, which no collection walks",
            value=gc.get_freeze_count(),
        )
        if COLLECTOR_PAUSES.installed:
            paused = CounterMetricFamily(
                "vigil_gc_pause_seconds",
                "Seconds collections held the process (no request or push served), by generation",
                labels=["generation"],
            )
            for generation, seconds in enumerate(COLLECTOR_PAUSES.seconds):
                paused.add_metric([str(generation)], seconds)
            yield paused
