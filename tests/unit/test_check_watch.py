"""``CheckService.watch(initial=True)``: registered before it reads, the current results
first, then only news (an event older than, or the same as, what was sent is not resent)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from services.checks.events import CHECKS_CHANNEL, result_event
from services.checks.models import CheckResult, CheckStatus, ResultView
from services.checks.service import CheckService
from services.events import InMemoryEventBus, subscribe_now, topic_for
from services.models import Principal, Role

ORG = "org_watch"
T0 = datetime(2026, 5, 1, 12, tzinfo=UTC)
CALLER = Principal(organization_id=ORG, role=Role.VIEWER, api_key_id="key_1")


def result(rid: str, at: datetime, status: CheckStatus = CheckStatus.FAILING) -> CheckResult:
    return CheckResult(ORG, "a", status, None, (), (), at, at, id=rid, status_changed_at=T0)


class Latest:
    """A store whose latest result is ``current``; publishes ``before_read`` while read."""

    def __init__(self, bus: InMemoryEventBus, current: CheckResult, before_read: list[CheckResult]):
        self._bus, self._current, self._before = bus, current, before_read

    async def list_latest_heads(self, **_: Any) -> list[ResultView]:
        for stale in self._before:  # changes published while the subscription reads
            await self._bus.publish(topic_for(ORG, CHECKS_CHANNEL), result_event(stale))
        return [ResultView(self._current, failing_count=0, excepted_count=0)]


async def test_initial_then_only_news() -> None:
    bus = InMemoryEventBus()
    r1, r2 = result("res_1", T0), result("res_2", T0 + timedelta(seconds=1))
    touched = replace(r2, evaluated_at=T0 + timedelta(seconds=5))  # re-evaluated, unchanged
    engine = SimpleNamespace(checks=(SimpleNamespace(id="a"),), definition=lambda _: object())
    service = CheckService(bus, engine, check_results=Latest(bus, touched, [r1, r2]))  # type: ignore[arg-type]
    watch = service.watch(CALLER, None, initial=True)
    first = await anext(watch)
    assert first.result.id == "res_2"
    r3 = result("res_3", T0 + timedelta(seconds=2), CheckStatus.PASSING)
    await bus.publish(topic_for(ORG, CHECKS_CHANNEL), result_event(r3))
    news = await asyncio.wait_for(anext(watch), 5)
    assert news.result.id == "res_3"  # res_1 (older) and res_2 (sent already) were skipped
    await watch.aclose()
    assert bus.subscriber_count() == 0


async def test_subscribe_now_is_registered_when_it_returns() -> None:
    bus = InMemoryEventBus()
    events = await subscribe_now(bus, "t")
    assert bus.subscriber_count("t") == 1
    await bus.publish("t", {"n": 1})
    assert await anext(events) == {"n": 1}
    await events.aclose()
    assert bus.subscriber_count("t") == 0
    never = await subscribe_now(bus, "t")
    await never.aclose()  # closed before its first event: unregistered all the same
    assert bus.subscriber_count("t") == 0
