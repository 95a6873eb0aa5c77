"""The simulator's clock: real UTC time plus an offset tests can advance."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class SimClock:
    """Wall-clock time shifted by an adjustable offset (token expiry, reuse windows, quotas)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._offset = timedelta(0)
        if start is not None:
            self._offset = start - datetime.now(UTC)

    def now(self) -> datetime:
        """The simulated current time (timezone-aware UTC)."""
        with self._lock:
            return datetime.now(UTC) + self._offset

    def advance(self, seconds: float) -> None:
        """Move simulated time forward (or back, if negative)."""
        with self._lock:
            self._offset += timedelta(seconds=seconds)

    def reset(self) -> None:
        """Return to real time."""
        with self._lock:
            self._offset = timedelta(0)
