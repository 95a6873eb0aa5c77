"""One JSON form of a check result and its items: store, bus and evidence agree."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from services.checks.base import Evaluation, Population
from services.checks.events import result_event, result_from_event
from services.checks.models import CheckItem, CheckResult, CheckStatus, ResultView
from services.evidence.chain import canonical_json
from services.evidence.models import EvidenceEntry
from services.evidence.recorder import EvidenceRecorder

AT = datetime(2026, 3, 1, 9, 0, 0, 123456, tzinfo=UTC)
FAILING = CheckItem("account", "a1", "Ann", "no person")
EXCEPTED = CheckItem("account", "a2", None, "bot")


def _result(**changes: Any) -> CheckResult:
    values: dict[str, Any] = {
        "organization_id": "org1",
        "check_id": "confluence-user-identified",
        "status": CheckStatus.FAILING,
        "reason": None,
        "failing_items": (FAILING,),
        "excepted_items": (EXCEPTED,),
        "evaluated_at": AT,
        "changed_at": AT,
        "data_as_of": None,
        "snapshot_id": None,
        "evidence_id": "ev_1",
        "id": "res_1",
    }
    return CheckResult(**(values | changes))


def test_item_json_is_the_camel_case_form_evidence_seals() -> None:
    assert FAILING.to_json() == {
        "resourceType": "account",
        "resourceId": "a1",
        "name": "Ann",
        "reason": "no person",
    }
    assert CheckItem.from_json(FAILING.to_json()) == FAILING
    assert CheckItem.from_json(EXCEPTED.to_json()) == EXCEPTED


def test_result_round_trips_through_json_and_through_the_bus() -> None:
    result = _result(data_as_of=AT, snapshot_id="snap_1")
    assert CheckResult.from_json(result.to_json()) == result
    event = result_event(result)
    assert event["check_id"] == result.check_id
    assert event["result"]["failingItems"] == [FAILING.to_json()]
    assert event["result"]["evaluatedAt"] == AT.isoformat()  # microseconds kept
    assert result_from_event(event) == ResultView(result)


def test_a_large_result_travels_on_the_bus_without_its_items() -> None:
    failing = tuple(CheckItem("account", f"a{i}", None, "no person") for i in range(600))
    result = _result(failing_items=failing)
    event = result_event(result)
    assert event["result"]["failingItems"] is None and event["result"]["exceptedItems"] is None
    assert len(json.dumps(event)) < 2_000  # whatever the number of items
    view = result_from_event(event)
    assert (view.failing_count, view.excepted_count) == (600, 1)
    assert view.result == _result(failing_items=(), excepted_items=())


class _Evidence:
    def __init__(self) -> None:
        self.entries: list[EvidenceEntry] = []

    async def record(self, entry: EvidenceEntry) -> Any:
        self.entries.append(entry)
        return SimpleNamespace(id="ev_new")


class _Exceptions:
    async def active(self, **_: Any) -> list[Any]:
        return [
            SimpleNamespace(
                id="exc_1",
                resource_id="a2",
                reason="bot",
                expires_at=AT,
                created_at=AT,
                created_by="key_1",
            )
        ]


async def test_the_sealed_result_text_is_unchanged() -> None:
    """Evidence records made before the shared form and after it read the same."""
    evidence = _Evidence()
    recorder = EvidenceRecorder(
        evidence,  # type: ignore[arg-type]
        integrations=SimpleNamespace(),  # type: ignore[arg-type]
        check_exceptions=_Exceptions(),
    )
    evaluation = Evaluation(
        check=SimpleNamespace(title="Every account is identified"),  # type: ignore[arg-type]
        result=_result(evidence_id=None),
        previous=_result(status=CheckStatus.PASSING, failing_items=(), evidence_id="ev_0"),
        population=Population(kind="accounts"),
        changed=True,
        status_changed=True,
    )
    assert await recorder(evaluation) == "ev_new"
    (entry,) = evidence.entries
    # The lists are references (ADR 011); read back, they are what was always sealed.
    lists = {c.root: [v for chunk in c.chunks for v in json.loads(chunk.text)] for c in entry.lists}
    expanded = {k: lists[v["root"]] if isinstance(v, dict) else v for k, v in entry.result.items()}
    assert set(entry.result) == set(expanded) and entry.population["kind"] == "accounts"
    assert canonical_json(expanded) == (
        '{"changedAt":"2026-03-01T09:00:00.123Z","checkId":"confluence-user-identified",'
        '"checkTitle":"Every account is identified","dataAsOf":null,"evaluatedAt":'
        '"2026-03-01T09:00:00.123Z","exceptedItems":[{"name":null,"reason":"bot",'
        '"resourceId":"a2","resourceType":"account"}],"exceptions":[{"createdAt":'
        '"2026-03-01T09:00:00.123Z","createdBy":"key_1","expiresAt":"2026-03-01T09:00:00.123Z",'
        '"id":"exc_1","reason":"bot","resourceId":"a2"}],"failingItems":[{"name":"Ann",'
        '"reason":"no person","resourceId":"a1","resourceType":"account"}],"previousEvidenceId":'
        '"ev_0","previousStatus":"PASSING","reason":null,"snapshotId":null,"status":"FAILING"}'
    )
