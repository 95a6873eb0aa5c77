"""The remediation plan as pages and as a live view, on top of ``RemediationService.plan``.

- ``plan_page``: the plan (filtered) by action id, a page at a time, with its total. The
  plan is computed, not stored; its cursors are action ids, so a page boundary stays where
  it was when the plan changes (an action that left the plan is simply no longer listed).
- ``watch_plan``: a ``PlanSummary`` whenever the plan may have changed and did — its
  actions, their states or whether they are executable. The plan follows check results
  (failing items), access reviews, approved actions' states and integrations (grants,
  syncs), so it is computed again after any event of those channels (events that arrive
  together are taken as one) and sent only when it differs from the last one sent.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from datetime import datetime

from services.checks.events import CHECKS_CHANNEL
from services.clock import utcnow_ms
from services.events import Event, EventBus, Registered, subscribe_now, topic_for
from services.integrations.changes import INTEGRATIONS_CHANNEL
from services.models import Principal
from services.paging import Slice, decode_cursor, make_slice, page_size
from services.remediation.models import RemediationAction
from services.remediation.service import REMEDIATIONS_CHANNEL, PlanFilter, RemediationService
from services.reviews.service import REVIEWS_CHANNEL

#: What the plan is computed from.
PLAN_CHANNELS = (CHECKS_CHANNEL, REVIEWS_CHANNEL, REMEDIATIONS_CHANNEL, INTEGRATIONS_CHANNEL)


async def plan_page(
    service: RemediationService,
    principal: Principal,
    plan_filter: PlanFilter | None,
    first: int | None,
    after: str | None,
) -> Slice[RemediationAction]:
    """A page of the plan by action id, after the action id ``after`` names."""
    limit = page_size(first)
    actions = sorted(await service.plan(principal, plan_filter), key=lambda a: a.id)
    key = decode_cursor(after)
    rows = [a for a in actions if key is None or a.id > key]
    return make_slice(rows[: limit + 1], limit=limit, total=len(actions), key=lambda a: a.id)


@dataclass(frozen=True, slots=True)
class PlanSummary:
    """The plan at one moment: how many actions, how many executable now, how many approved
    and not finished (PENDING or DONE)."""

    total: int
    executable: int
    in_progress: int
    changed_at: datetime
    initial: bool = False


def _fingerprint(actions: Sequence[RemediationAction]) -> frozenset[tuple[object, ...]]:
    return frozenset((a.id, a.state, a.executable, a.blocked_reason) for a in actions)


def _summary(actions: Sequence[RemediationAction], initial: bool) -> PlanSummary:
    unfinished = {"PENDING", "CALLING", "DONE"}
    return PlanSummary(
        total=len(actions),
        executable=sum(1 for a in actions if a.executable and a.state is None),
        in_progress=sum(1 for a in actions if a.state is not None and a.state in unfinished),
        changed_at=utcnow_ms(),
        initial=initial,
    )


async def watch_plan(
    bus: EventBus, service: RemediationService, principal: Principal, *, initial: bool = False
) -> AsyncGenerator[PlanSummary, None]:
    """A summary of the plan each time it changed, from now on (``initial``: first the plan
    as it is once subscribed)."""
    org = principal.organization_id
    streams: list[Registered] = []
    pending: dict[asyncio.Future[Event], Registered] = {}
    try:
        for channel in PLAN_CHANNELS:
            streams.append(await subscribe_now(bus, topic_for(org, channel)))
        actions = await service.plan(principal)
        last = _fingerprint(actions)
        if initial:
            yield _summary(actions, True)
        pending = {asyncio.ensure_future(anext(s)): s for s in streams}
        while True:
            done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for future in done:  # everything that arrived together is one change
                stream = pending.pop(future)
                future.result()
                pending[asyncio.ensure_future(anext(stream))] = stream
            actions = await service.plan(principal)
            now = _fingerprint(actions)
            if now != last:
                last = now
                yield _summary(actions, False)
    finally:
        for future in pending:
            future.cancel()
        for future in pending:
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await future
        for stream in streams:
            await stream.aclose()
