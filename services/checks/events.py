"""Check results on the bus, as JSON-ready data (any bus backend can carry them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.checks.base import CheckItem, CheckResult, CheckStatus
from services.events import Event

CHECKS_CHANNEL = "checks"


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _parse(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def _items(items: tuple[CheckItem, ...]) -> list[list[str | None]]:
    return [[i.resource_type, i.resource_id, i.name, i.reason] for i in items]


def _to_items(raw: list[list[str]]) -> tuple[CheckItem, ...]:
    return tuple(CheckItem(t, r, n, why) for t, r, n, why in raw)


def result_event(result: CheckResult) -> Event:
    """The event published when a check's result changes."""
    return {
        "check_id": result.check_id,
        "result": {
            "organization_id": result.organization_id,
            "id": result.id,
            "status": result.status.value,
            "reason": result.reason,
            "failing_items": _items(result.failing_items),
            "excepted_items": _items(result.excepted_items),
            "evaluated_at": _time(result.evaluated_at),
            "changed_at": _time(result.changed_at),
            "data_as_of": _time(result.data_as_of),
            "snapshot_id": result.snapshot_id,
            "evidence_id": result.evidence_id,
        },
    }


def result_from_event(event: Event) -> CheckResult:
    """The result carried by an event made by ``result_event``."""
    data = event["result"]
    evaluated = _parse(data["evaluated_at"])
    changed = _parse(data["changed_at"])
    assert evaluated is not None and changed is not None
    return CheckResult(
        organization_id=data["organization_id"],
        check_id=event["check_id"],
        status=CheckStatus(data["status"]),
        reason=data["reason"],
        failing_items=_to_items(data["failing_items"]),
        excepted_items=_to_items(data["excepted_items"]),
        evaluated_at=evaluated,
        changed_at=changed,
        data_as_of=_parse(data["data_as_of"]),
        snapshot_id=data["snapshot_id"],
        evidence_id=data["evidence_id"],
        id=data["id"],
    )
