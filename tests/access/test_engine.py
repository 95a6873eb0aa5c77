"""The check engine: history only on change, changedAt, the hooks issue 7 plugs into
(record_evidence → evidence id, exception filter), compare-and-set across processes. Both stores."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from services.checks.base import Evaluation, Outcome, Population
from services.checks.controls import controls_for
from services.checks.engine import CheckEngine
from services.checks.events import CHECKS_CHANNEL, result_from_event
from services.checks.models import CheckItem, CheckStatus
from services.events import InMemoryEventBus, topic_for
from services.store import Store

ORG = "org_engine"


@dataclass
class Box:
    """A data source returning whatever the test put in it."""

    failing: list[str] = field(default_factory=list)
    status: CheckStatus | None = None

    async def load(self, organization_id: str, now: datetime) -> Box:
        return Box(list(self.failing), self.status)


class Fake:
    id = "confluence-user-identified"
    title = description = fix = "t"
    controls = controls_for(id)
    source = "box"

    def evaluate(self, data: Box) -> Outcome:
        items = tuple(CheckItem("account", a, a.upper(), "unidentified") for a in data.failing)
        status = data.status or (CheckStatus.FAILING if items else CheckStatus.PASSING)
        population = Population("accounts", tuple({"accountId": a} for a in data.failing))
        return Outcome(status, "r", items, population, snapshot_id="snap", data_as_of=NOW)


class Boom(Fake):
    id = "confluence-mfa-enabled"

    def evaluate(self, data: Box) -> Outcome:
        raise RuntimeError("bug")


NOW = datetime(2026, 1, 1, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@dataclass
class Excepted:
    pairs: set[tuple[str, str]] = field(default_factory=set)

    async def excepted(self, organization_id: str, now: datetime) -> frozenset[tuple[str, str]]:
        return frozenset(self.pairs)


def engine(store: Store, box: Box, bus: InMemoryEventBus, **hooks: object) -> CheckEngine:
    return CheckEngine(
        bus,
        check_results=store.check_results,
        checks=(Fake(), Boom()),
        sources={"box": box},
        clock=Clock(),
        **hooks,  # type: ignore[arg-type]
    )


async def history(store: Store) -> list[tuple[CheckStatus, list[str]]]:
    rows, _ = await store.check_results.list_history(
        organization_id=ORG, check_id=Fake.id, limit=50, before=None
    )
    return [(r.status, [i.resource_id for i in r.failing_items]) for r in reversed(rows)]


async def test_changes_are_recorded_published_and_handed_to_the_hook(store: Store) -> None:
    box, bus, seen = Box(["a1"]), InMemoryEventBus(), []

    async def record_evidence(evaluation: Evaluation) -> str:
        seen.append(evaluation)
        return f"ev_{len(seen)}"

    eng = engine(store, box, bus, record_evidence=record_evidence)
    events = bus.subscribe(topic_for(ORG, CHECKS_CHANNEL))
    pending = asyncio.ensure_future(anext(events))
    await asyncio.sleep(0)  # the subscriber registers when its iteration starts
    first = {e.check.id: e for e in await eng.evaluate(ORG)}
    assert first[Fake.id].changed and first[Fake.id].status_changed
    assert first[Boom.id].result.status is CheckStatus.ERROR  # a raising check is an ERROR
    published = result_from_event(await pending).result
    assert published.check_id == Fake.id and published.evidence_id == "ev_1"
    assert seen[0].population.items == ({"accountId": "a1"},) and seen[0].previous is None

    again = {e.check.id: e for e in await eng.evaluate(ORG)}
    assert not again[Fake.id].changed and len(seen) == 2  # only Boom's first run + Fake's
    box.failing = ["a1", "a2"]
    changed = {e.check.id: e for e in await eng.evaluate(ORG)}[Fake.id]
    assert changed.changed and not changed.status_changed
    assert changed.previous is not None and changed.previous.evidence_id == "ev_1"
    latest = await store.check_results.get_latest(organization_id=ORG, check_id=Fake.id)
    assert latest is not None
    # The failing set changed, the status did not: changedAt moves, statusChangedAt stays.
    assert latest.changed_at == changed.result.evaluated_at > first[Fake.id].result.changed_at
    assert latest.status_since == first[Fake.id].result.changed_at
    assert latest.evidence_id == "ev_3" and latest.evaluated_at == changed.result.evaluated_at
    box.failing = []
    await eng.evaluate(ORG)
    assert await history(store) == [
        (CheckStatus.FAILING, ["a1"]),
        (CheckStatus.FAILING, ["a1", "a2"]),
        (CheckStatus.PASSING, []),
    ]
    await events.aclose()


async def test_unchanged_evaluations_only_touch_the_latest_result(store: Store) -> None:
    box = Box(["a1"])
    eng = engine(store, box, InMemoryEventBus())
    await eng.evaluate(ORG)
    before = await store.check_results.get_latest(organization_id=ORG, check_id=Fake.id)
    await eng.evaluate(ORG)
    after = await store.check_results.get_latest(organization_id=ORG, check_id=Fake.id)
    assert before is not None and after is not None
    assert after.evaluated_at > before.evaluated_at and after.changed_at == before.changed_at
    assert after.status_since == before.status_since == before.changed_at
    assert len(await history(store)) == 1


async def test_exceptions_move_items_and_can_make_a_check_pass(store: Store) -> None:
    box, excepted = Box(["a1", "a2"]), Excepted({(Fake.id, "a1")})
    eng = engine(store, box, InMemoryEventBus(), exceptions=excepted)
    result = {e.check.id: e for e in await eng.evaluate(ORG)}[Fake.id].result
    assert [i.resource_id for i in result.failing_items] == ["a2"]
    assert [i.resource_id for i in result.excepted_items] == ["a1"]
    excepted.pairs.add((Fake.id, "a2"))
    result = {e.check.id: e for e in await eng.evaluate(ORG)}[Fake.id].result
    assert result.status is CheckStatus.PASSING and len(result.excepted_items) == 2
    excepted.pairs.clear()  # an exception expiring is a change too
    result = {e.check.id: e for e in await eng.evaluate(ORG)}[Fake.id].result
    assert result.status is CheckStatus.FAILING
    assert len(await history(store)) == 3


async def test_a_failing_hook_stores_nothing_and_is_retried(store: Store) -> None:
    calls = []

    async def flaky(evaluation: Evaluation) -> str | None:
        calls.append(evaluation.check.id)
        if len(calls) <= 2:
            raise RuntimeError("evidence store down")
        return None

    eng = engine(store, Box(["a1"]), InMemoryEventBus(), record_evidence=flaky)
    assert await eng.evaluate(ORG) == []
    assert await store.check_results.list_latest(organization_id=ORG) == []
    assert len(await eng.evaluate(ORG)) == 2
    assert len(await history(store)) == 1


async def test_two_processes_record_one_change_once(store: Store) -> None:
    box = Box(["a1"])
    one, two = engine(store, box, InMemoryEventBus()), engine(store, box, InMemoryEventBus())
    await one.evaluate(ORG)
    stale = (await store.check_results.states(organization_id=ORG))[Fake.id]
    box.failing = ["a2"]
    await one.evaluate(ORG)
    latest = await store.check_results.get_latest(organization_id=ORG, check_id=Fake.id)
    assert latest is not None
    # A second process that read the older version loses the compare-and-set...
    assert not await store.check_results.record_change(latest, expected_version=stale.version)
    # ...and, evaluating again, sees the change already recorded.
    assert not {e.check.id: e for e in await two.evaluate(ORG)}[Fake.id].changed
    assert len(await history(store)) == 2
