"""``api.runtime.prepare_process`` (ADR 024), in a Python process of its own: it changes the
interpreter's collector for good, which this test process must not."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PREPARE = """
import gc, json, sys
from api.runtime import COLLECTOR_PAUSES, prepare_process
before = gc.get_threshold(), gc.get_freeze_count()
thresholds = json.loads(sys.argv[1])
prepare_process(tuple(thresholds) if thresholds else None)
prepare_process(tuple(thresholds) if thresholds else None)  # a second call adds nothing
cycle = []
cycle.append(cycle)  # garbage only the collector frees
del cycle
gc.collect()
print(json.dumps({
    "before": before[0], "frozen_before": before[1], "threshold": gc.get_threshold(),
    "frozen": gc.get_freeze_count(), "paused": COLLECTOR_PAUSES.seconds,
    "hooks": sum(1 for c in gc.callbacks if getattr(c, "__self__", None) is COLLECTOR_PAUSES),
}))
"""


def _prepared(thresholds: list[int] | None) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PREPARE, json.dumps(thresholds)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


@pytest.mark.parametrize("thresholds", [[12345, 7, 9], None])
def test_prepare_process_sets_the_collector_freezes_and_records_pauses(
    thresholds: list[int] | None,
) -> None:
    seen = _prepared(thresholds)
    assert seen["threshold"] == (thresholds or seen["before"])  # None keeps the interpreter's
    assert seen["frozen_before"] == 0
    assert isinstance(seen["frozen"], int) and seen["frozen"] > 1000  # what was imported
    assert seen["hooks"] == 1
    paused = seen["paused"]
    assert isinstance(paused, list) and paused[2] > 0  # the full collection after it
