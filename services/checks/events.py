"""Check results on the bus, as JSON-ready data (any bus backend can carry them).

The payload is the result's one JSON form (``CheckResult.to_json``), datetimes as ISO-8601.
"""

from __future__ import annotations

from datetime import datetime

from services.checks.models import CheckResult
from services.events import Event

CHECKS_CHANNEL = "checks"


def result_event(result: CheckResult) -> Event:
    """The event published when a check's result changes."""
    data = result.to_json()
    return {
        "check_id": result.check_id,
        "result": {k: v.isoformat() if isinstance(v, datetime) else v for k, v in data.items()},
    }


def result_from_event(event: Event) -> CheckResult:
    """The result carried by an event made by ``result_event``."""
    return CheckResult.from_json(event["result"])
