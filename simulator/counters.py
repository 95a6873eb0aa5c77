"""Request counters per normalised route and per status, readable from tests."""

from __future__ import annotations

import threading
from collections import Counter

from simulator.routing import WRITE_ROUTES

DROPPED = 0  # status recorded for a connection closed without a response


class Counters:
    """Thread-safe counts: requests per route, per status, per (route, status), faults."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_route: Counter[str] = Counter()
        self._by_status: Counter[int] = Counter()
        self._by_route_status: Counter[tuple[str, int]] = Counter()
        self._faults: Counter[str] = Counter()

    def record(self, route: str, status: int) -> None:
        """Count one finished request (status DROPPED when the connection was dropped)."""
        with self._lock:
            self._by_route[route] += 1
            self._by_status[status] += 1
            self._by_route_status[(route, status)] += 1

    def record_fault(self, kind: str) -> None:
        """Count one injected fault (`latency`, `429`, `quota`, `503`, `drop`, …)."""
        with self._lock:
            self._faults[kind] += 1

    def count(self, route: str | None = None, status: int | None = None) -> int:
        """Requests matching the route and/or status (all requests when both are None)."""
        with self._lock:
            if route is not None and status is not None:
                return self._by_route_status[(route, status)]
            if route is not None:
                return self._by_route[route]
            if status is not None:
                return self._by_status[status]
            return sum(self._by_route.values())

    def faults(self, kind: str | None = None) -> int:
        """Injected faults of a kind (all kinds when None)."""
        with self._lock:
            return self._faults[kind] if kind else sum(self._faults.values())

    def writes(self) -> int:
        """Requests to write routes (remediation), whatever their status."""
        with self._lock:
            return sum(n for route, n in self._by_route.items() if route in WRITE_ROUTES)

    @property
    def by_route(self) -> dict[str, int]:
        """A copy of the per-route counts."""
        with self._lock:
            return dict(self._by_route)

    @property
    def by_status(self) -> dict[int, int]:
        """A copy of the per-status counts."""
        with self._lock:
            return dict(self._by_status)

    def snapshot(self) -> dict[str, object]:
        """Everything, JSON-friendly."""
        with self._lock:
            return {
                "byRoute": dict(self._by_route),
                "byStatus": {str(k): v for k, v in self._by_status.items()},
                "byRouteStatus": {f"{r} {s}": n for (r, s), n in self._by_route_status.items()},
                "faults": dict(self._faults),
            }

    def reset(self) -> None:
        """Zero every counter."""
        with self._lock:
            self._by_route.clear()
            self._by_status.clear()
            self._by_route_status.clear()
            self._faults.clear()
