"""Checks as the API sees them: definitions with latest results, history, live updates."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from services.checks.base import Check
from services.checks.engine import CheckEngine
from services.checks.events import CHECKS_CHANNEL, result_from_event
from services.checks.models import CheckResult
from services.errors import NotFound, ValidationFailed
from services.events import EventBus, topic_for
from services.models import Principal
from services.paging import Slice, decode_cursor, make_slice, page_size


@dataclass(frozen=True, slots=True)
class CheckView:
    """A check's definition and its latest result (None before its first evaluation)."""

    check: Check[Any]
    result: CheckResult | None


class CheckResultsRepo(Protocol):
    """The ``CheckResultRepository`` methods ``CheckService`` calls."""

    async def get_latest(self, *, organization_id: str, check_id: str) -> CheckResult | None: ...
    async def list_history(
        self,
        *,
        organization_id: str,
        check_id: str,
        limit: int,
        before: tuple[datetime, str] | None,
    ) -> tuple[list[CheckResult], int]: ...
    async def list_latest(self, *, organization_id: str) -> list[CheckResult]: ...


class CheckService:
    """Read side of the checks; every read is scoped to the caller's organization."""

    def __init__(
        self, bus: EventBus, engine: CheckEngine, *, check_results: CheckResultsRepo
    ) -> None:
        self._check_results = check_results
        self._bus = bus
        self._engine = engine

    async def list_checks(self, principal: Principal) -> list[CheckView]:
        """Every registered check with its latest result."""
        results = await self._check_results.list_latest(organization_id=principal.organization_id)
        by_id = {r.check_id: r for r in results}
        return [CheckView(c, by_id.get(c.id)) for c in self._engine.checks]

    async def get_check(self, principal: Principal, check_id: str) -> CheckView | None:
        """One check with its latest result; None for an unknown id."""
        check = self._engine.definition(check_id)
        if check is None:
            return None
        result = await self._check_results.get_latest(
            organization_id=principal.organization_id, check_id=check_id
        )
        return CheckView(check, result)

    async def history(
        self, principal: Principal, check_id: str, first: int | None, after: str | None
    ) -> Slice[CheckResult]:
        """The recorded changes of a check's result, newest first."""
        self._known(check_id)
        limit = page_size(first)
        rows, total = await self._check_results.list_history(
            organization_id=principal.organization_id,
            check_id=check_id,
            limit=limit + 1,
            before=_key(decode_cursor(after)),
        )
        return make_slice(rows, limit=limit, total=total, key=_cursor)

    async def watch(
        self, principal: Principal, check_id: str | None
    ) -> AsyncGenerator[CheckResult, None]:
        """Every change of the organization's results (of one check when given)."""
        if check_id is not None:
            self._known(check_id)
        events = self._bus.subscribe(topic_for(principal.organization_id, CHECKS_CHANNEL))
        try:
            async for event in events:
                if check_id is None or event.get("check_id") == check_id:
                    yield result_from_event(event)
        finally:
            await events.aclose()  # type: ignore[attr-defined]

    def _known(self, check_id: str) -> None:
        if self._engine.definition(check_id) is None:
            raise NotFound(f"check {check_id} not found", field=["checkId"])


def _cursor(result: CheckResult) -> str:
    return f"{result.evaluated_at.isoformat()}|{result.id}"


def _key(key: str | None) -> tuple[datetime, str] | None:
    if key is None:
        return None
    at, _, result_id = key.partition("|")
    try:
        return datetime.fromisoformat(at), result_id
    except ValueError:
        raise ValidationFailed("after is not a valid cursor", field=["after"]) from None
