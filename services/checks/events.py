"""Check results on the bus, as JSON-ready data (any bus backend can carry them).

The payload is the result's one JSON form (``CheckResult.to_json``), datetimes as ISO-8601,
with ``failingCount`` and ``exceptedCount``. A result with more than ``INLINE_ITEMS`` items
travels without them (``failingItems`` / ``exceptedItems`` null): subscribers read them
from the store by the result's id, where they are written before the result is published.
So an event stays small whatever the result (the replicated bus stores each event as a
document: 100,000 failing items made one of 15 MB).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from services.checks.models import CheckResult, ResultView
from services.events import Event

CHECKS_CHANNEL = "checks"
INLINE_ITEMS = 500


def result_event(result: CheckResult) -> Event:
    """The event published when a check's result changes."""
    failing, excepted = len(result.failing_items), len(result.excepted_items)
    if failing + excepted > INLINE_ITEMS and result.id is not None:  # not even serialised
        data = replace(result, failing_items=(), excepted_items=()).to_json()
        data["failingItems"] = data["exceptedItems"] = None
    else:
        data = result.to_json()
    data["failingCount"], data["exceptedCount"] = failing, excepted
    return {
        "check_id": result.check_id,
        "result": {k: v.isoformat() if isinstance(v, datetime) else v for k, v in data.items()},
    }


def result_from_event(event: Event) -> ResultView:
    """The result carried by an event made by ``result_event`` (with its counts when it
    came without its items)."""
    raw = event["result"]
    result = CheckResult.from_json(raw)
    if raw.get("failingItems") is not None:
        return ResultView(result)
    return ResultView(
        result, failing_count=int(raw["failingCount"]), excepted_count=int(raw["exceptedCount"])
    )
