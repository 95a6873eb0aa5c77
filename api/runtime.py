"""What a ``vigil serve`` or ``vigil worker`` process sets for itself once, before its work:
the cyclic garbage collector (ADR 024).

A cold evaluation of 100,000 accounts loads about a million long-lived objects (accounts,
people, identities and their indexes). With CPython's default thresholds (700, 10, 10) the
collector runs a full collection each time that heap has grown by a quarter: four of
0.55-0.6 s each during the load (``bench/cold_gc.py``), each an event-loop pause in which no
request or push is served. Vigil's data is almost free of reference cycles (frozen
dataclasses, dicts and lists of them): reference counting frees it, the collector only looks
at it. So the process raises the thresholds (``VIGIL_GC_THRESHOLDS``) and freezes what
exists when it starts (modules, classes, the GraphQL schema), which no full collection then
walks again. Tests and tools that import Vigil keep their interpreter's defaults: only the two
process commands call :func:`prepare_process`.
"""

from __future__ import annotations

import gc
import logging
import time
from typing import Any, Self

__all__ = ["COLLECTOR_PAUSES", "CollectorPauses", "prepare_process"]

log = logging.getLogger(__name__)


class CollectorPauses:
    """Seconds the collector held the process, by generation, while this is installed as a
    ``gc.callbacks`` hook (:meth:`install` once for the process, or ``with`` for a while);
    :meth:`paused` is told each collection (the benchmarks keep them one by one)."""

    def __init__(self) -> None:
        self.seconds = [0.0, 0.0, 0.0]
        self.installed = False
        self._started: float | None = None

    def install(self) -> None:
        if not self.installed:
            gc.callbacks.append(self._on_collection)
            self.installed = True

    def remove(self) -> None:
        if self.installed:
            gc.callbacks.remove(self._on_collection)
            self.installed = False

    def __enter__(self) -> Self:
        self.install()
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    def paused(self, generation: int, seconds: float) -> None:
        """One collection of ``generation`` took ``seconds``."""
        self.seconds[generation] += seconds

    def _on_collection(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        elif self._started is not None:
            self.paused(info["generation"], time.perf_counter() - self._started)
            self._started = None


#: The process's one record of collector pauses.
COLLECTOR_PAUSES = CollectorPauses()


def prepare_process(thresholds: tuple[int, int, int] | None) -> None:
    """Set the collector for a long-running Vigil process, after its imports and set-up and
    before it serves: ``thresholds`` (None keeps the interpreter's), then one collection and
    :func:`gc.freeze` of everything alive, and the pause record of ``/metrics``."""
    if thresholds is not None:
        gc.set_threshold(*thresholds)
    gc.collect()
    gc.freeze()
    COLLECTOR_PAUSES.install()
    log.info(
        "garbage collector set",
        extra={
            "gc_thresholds": ",".join(str(t) for t in gc.get_threshold()),  # as the setting
            "frozen_objects": gc.get_freeze_count(),
        },
    )
