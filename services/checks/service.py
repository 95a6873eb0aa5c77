"""Checks as the API sees them: definitions with latest results, history, live updates."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import KW_ONLY, dataclass
from datetime import datetime
from functools import partial
from typing import Any, Protocol

from services.checks.base import Check
from services.checks.engine import CheckEngine
from services.checks.events import CHECKS_CHANNEL, result_from_event
from services.checks.models import CheckItem, CheckResult, ResultView
from services.errors import NotFound, ValidationFailed
from services.events import EventBus, subscribe_now, topic_for
from services.models import Principal
from services.paging import (
    Slice,
    decode_cursor,
    encode_cursor,
    page_size,
    time_slice,
)


@dataclass(frozen=True, slots=True)
class CheckView:
    """A check's definition and its latest result (None before its first evaluation)."""

    check: Check[Any]
    result: CheckResult | None
    # Set by the ``paged`` reads: ``result`` then comes without its items (page the failing
    # ones with ``failing_items``, read the excepted ones with ``excepted_items``) and these
    # are how many it has.
    failing_count: int | None = None
    excepted_count: int | None = None

    @classmethod
    def of(cls, check: Check[Any], view: ResultView | None) -> CheckView:
        """A check with its latest result as read (with or without its items)."""
        if view is None:
            return cls(check, None)
        return cls(check, view.result, view.failing_count, view.excepted_count)


class CheckResultsRepo(Protocol):
    """The ``CheckResultRepository`` methods ``CheckService`` calls."""

    async def get_latest(self, *, organization_id: str, check_id: str) -> CheckResult | None: ...
    async def list_history_heads(
        self,
        *,
        organization_id: str,
        check_id: str,
        limit: int,
        before: tuple[datetime, str] | None,
    ) -> tuple[list[ResultView], int]: ...
    async def list_latest(self, *, organization_id: str) -> list[CheckResult]: ...
    async def list_latest_heads(
        self, *, organization_id: str, check_id: str | None = None
    ) -> list[ResultView]: ...
    async def failing_page(
        self, *, organization_id: str, result_id: str, offset: int, limit: int
    ) -> list[CheckItem]: ...
    async def excepted_items(
        self, *, organization_id: str, result_id: str
    ) -> tuple[CheckItem, ...]: ...


@dataclass(eq=False, repr=False)
class CheckService:
    """Read side of the checks; every read is scoped to the caller's organization."""

    bus: EventBus
    engine: CheckEngine
    _: KW_ONLY
    check_results: CheckResultsRepo

    async def list_checks(self, principal: Principal, *, paged: bool = False) -> list[CheckView]:
        """Every registered check with its latest result (``paged``: see ``CheckView``)."""
        results = self.check_results
        org = principal.organization_id
        if paged:
            heads = await results.list_latest_heads(organization_id=org)
            by_check = {v.result.check_id: v for v in heads}
            return [CheckView.of(c, by_check.get(c.id)) for c in self.engine.checks]
        by_id = {r.check_id: r for r in await results.list_latest(organization_id=org)}
        return [CheckView(c, by_id.get(c.id)) for c in self.engine.checks]

    async def get_check(
        self, principal: Principal, check_id: str, *, paged: bool = False
    ) -> CheckView | None:
        """One check with its latest result; None for an unknown id (``paged``: see
        ``CheckView``)."""
        check = self.engine.definition(check_id)
        if check is None:
            return None
        results = self.check_results
        org = principal.organization_id
        if paged:
            heads = await results.list_latest_heads(organization_id=org, check_id=check_id)
            return CheckView.of(check, heads[0] if heads else None)
        return CheckView(check, await results.get_latest(organization_id=org, check_id=check_id))

    async def failing_items(
        self,
        principal: Principal,
        result_id: str,
        total: int,
        first: int | None,
        after: str | None,
    ) -> Slice[CheckItem]:
        """A page of the failing items of a recorded result of ``total`` items (from a
        ``paged`` read), read from the store a page at a time."""
        limit = page_size(first)
        start = item_offset(after)
        rows = await self.check_results.failing_page(
            organization_id=principal.organization_id,
            result_id=result_id,
            offset=start,
            limit=limit + 1,
        )
        return _item_slice(rows, start, limit, total)

    async def excepted_items(self, principal: Principal, result_id: str) -> tuple[CheckItem, ...]:
        """The excepted items of a recorded result (from a ``paged`` read)."""
        return await self.check_results.excepted_items(
            organization_id=principal.organization_id, result_id=result_id
        )

    async def history(
        self, principal: Principal, check_id: str, first: int | None, after: str | None
    ) -> Slice[ResultView]:
        """The recorded changes of a check's result, newest first, without their items
        (page them with ``failing_items`` and ``excepted_items``)."""
        self._known(check_id)
        rows = partial(
            self.check_results.list_history_heads,
            organization_id=principal.organization_id,
            check_id=check_id,
        )
        return await time_slice(
            rows, first, after, key=lambda v: (v.result.evaluated_at, str(v.result.id))
        )

    async def watch(
        self, principal: Principal, check_id: str | None, *, initial: bool = False
    ) -> AsyncGenerator[ResultView, None]:
        """Every change of the organization's results (of one check when given); a large
        result comes without its items (``ResultView``).

        ``initial``: first the current result of each evaluated check (in catalogue order),
        read once the subscription is registered, so no change after it is missed; a change
        that the current results already show is not sent again.
        """
        if check_id is not None:
            self._known(check_id)
        org = principal.organization_id
        events = await subscribe_now(self.bus, topic_for(org, CHECKS_CHANNEL))
        try:
            sent: dict[str, CheckResult] = {}
            if initial:
                heads = await self.check_results.list_latest_heads(
                    organization_id=org, check_id=check_id
                )
                order = {c.id: n for n, c in enumerate(self.engine.checks)}
                for view in sorted(heads, key=lambda v: order.get(v.result.check_id, len(order))):
                    if view.result.check_id in order:
                        sent[view.result.check_id] = view.result
                        yield view
            async for event in events:
                if check_id is not None and event.get("check_id") != check_id:
                    continue
                view = result_from_event(event)
                if _newer(view.result, sent.get(view.result.check_id)):
                    sent[view.result.check_id] = view.result
                    yield view
        finally:
            await events.aclose()

    def definition(self, check_id: str) -> Check[Any] | None:
        """The registered check with this id."""
        return self.engine.definition(check_id)

    def _known(self, check_id: str) -> None:
        if self.engine.definition(check_id) is None:
            raise NotFound(f"check {check_id} not found", field=["checkId"])


def _newer(result: CheckResult, shown: CheckResult | None) -> bool:
    """Whether a pushed ``result`` is news after ``shown`` (the current result sent first):
    not that very result, nor one recorded before it."""
    if shown is None:
        return True
    return result.id != shown.id and result.evaluated_at >= shown.changed_at


def page_of_items(
    items: Sequence[CheckItem], first: int | None, after: str | None
) -> Slice[CheckItem]:
    """A page of items already in memory (a pushed or historical result)."""
    limit = page_size(first)
    start = item_offset(after)
    return _item_slice(items[start : start + limit + 1], start, limit, len(items))


def item_offset(after: str | None) -> int:
    """Where the page after an item cursor starts: items are paged by their position in the
    result (a result never changes; a new result has a new id)."""
    key = decode_cursor(after)
    if key is None:
        return 0
    if not (key.isascii() and key.isdigit() and len(key) <= 18):
        raise ValidationFailed("after is not a valid cursor", field=["after"])
    return int(key) + 1


def _item_slice(rows: Sequence[CheckItem], start: int, limit: int, total: int) -> Slice[CheckItem]:
    shown = list(rows[:limit])
    return Slice(
        items=[(encode_cursor(str(start + i)), item) for i, item in enumerate(shown)],
        total_count=total,
        has_next_page=len(rows) > limit,
    )
