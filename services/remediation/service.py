"""The remediation API of the service layer: plan (any role), execute (ADMIN + confirm)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from services.api_keys import require_role
from services.clock import Clock, utcnow_ms
from services.errors import Conflict, NotFound, ValidationFailed
from services.events import EventBus, topic_for
from services.models import Principal, Role
from services.paging import Slice, decode_cursor, make_slice, page_size
from services.remediation.executor import RemediationExecutor
from services.remediation.models import RemediationAction, SourceType
from services.remediation.planner import RemediationPlanner

log = logging.getLogger(__name__)

REMEDIATIONS_CHANNEL = "remediations"
MAX_ACTIONS = 500


@dataclass(frozen=True, slots=True)
class PlanFilter:
    """Narrow the plan to one account and/or one kind of source."""

    account_id: str | None = None
    source: SourceType | None = None


class RemediationsRepo(Protocol):
    """The ``RemediationRepository`` methods ``RemediationService`` calls."""

    async def approve(
        self, actions: Sequence[RemediationAction], *, approved_by: str, now: datetime
    ) -> list[RemediationAction]: ...
    async def get_many(
        self, *, organization_id: str, action_ids: Sequence[str]
    ) -> dict[str, RemediationAction]: ...
    async def list_actions(
        self, *, organization_id: str, limit: int, before: tuple[datetime, str] | None
    ) -> tuple[list[RemediationAction], int]: ...
    async def open_organizations(self, *, now: datetime) -> list[str]: ...


class RemediationService:
    """Plans, approves and runs remediation actions; publishes each finished action."""

    def __init__(
        self,
        bus: EventBus,
        planner: RemediationPlanner,
        executor_factory: Callable[[RemediationService], RemediationExecutor],
        *,
        remediations: RemediationsRepo,
        on_stopped: Sequence[Callable[[], Awaitable[None]]] = (),
        clock: Clock = utcnow_ms,
    ) -> None:
        """``on_stopped`` also run when the service stops (e.g. pending follow-up syncs)."""
        self._remediations = remediations
        self._bus = bus
        self._planner = planner
        self._clock = clock
        self.executor = executor_factory(self)
        self._tasks: set[asyncio.Task[None]] = set()
        self._on_stopped = tuple(on_stopped)

    async def plan(
        self, principal: Principal, plan_filter: PlanFilter | None = None
    ) -> list[RemediationAction]:
        """What would be called and why, with the state of actions already approved."""
        actions = await self._planner.plan(principal.organization_id)
        f = plan_filter or PlanFilter()
        actions = [
            a
            for a in actions
            if f.account_id in (None, a.account_id) and f.source in (None, a.source.type)
        ]
        stored = await self._remediations.get_many(
            organization_id=principal.organization_id, action_ids=[a.id for a in actions]
        )
        return [_merge(a, stored.get(a.id)) for a in actions]

    async def execute(
        self, principal: Principal, action_ids: Sequence[str], confirm: bool
    ) -> list[RemediationAction]:
        """Approve actions of the current plan and start carrying them out (ADMIN, confirm)."""
        require_role(principal, Role.ADMIN)
        if not confirm:
            raise ValidationFailed(
                "nothing was called: set confirm: true to let Vigil change Atlassian",
                field=["confirm"],
                code="CONFIRMATION_REQUIRED",
            )
        ids = list(dict.fromkeys(str(i) for i in action_ids))
        if not ids:
            raise ValidationFailed("give at least one action id", field=["actionIds"])
        if len(ids) > MAX_ACTIONS:
            raise ValidationFailed(f"at most {MAX_ACTIONS} actions at once", field=["actionIds"])
        planned = {a.id: a for a in await self._planner.plan(principal.organization_id)}
        stored = await self._remediations.get_many(
            organization_id=principal.organization_id, action_ids=ids
        )
        missing = [i for i in ids if i not in planned and i not in stored]
        if missing:
            raise NotFound(
                f"not in the current remediation plan: {', '.join(missing[:5])}",
                field=["actionIds"],
            )
        blocked = [planned[i] for i in ids if i in planned and not planned[i].executable]
        if blocked:
            raise Conflict(
                f"action {blocked[0].id} cannot be executed: {blocked[0].blocked_reason}",
                field=["actionIds"],
                code="NOT_GRANTED",
            )
        # An id no longer planned but stored is an action already carried out: a success.
        wanted = [planned[i] for i in ids if i in planned]
        approved = await self._remediations.approve(
            wanted, approved_by=principal.actor_id, now=self._clock()
        )
        self.start(principal.organization_id)
        by_id = {a.id: a for a in approved} | {i: a for i, a in stored.items() if i not in planned}
        return [by_id[i] for i in ids]

    def start(self, organization_id: str) -> asyncio.Task[None]:
        """Run the organization's open actions in the background."""
        task = asyncio.create_task(self._run(organization_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _run(self, organization_id: str) -> None:
        try:
            await self.executor.run(organization_id)
        except Exception:
            log.exception("remediation run of %s failed", organization_id)

    async def resume_forever(self, interval: float = 30.0) -> None:
        """Worker loop: finish open actions whose worker died (their lease expired)."""
        while True:
            try:
                now = self._clock()
                for org in await self._remediations.open_organizations(now=now):
                    if not self._tasks:
                        self.start(org)
            except Exception:
                log.exception("could not resume remediation actions")
            await asyncio.sleep(interval)

    async def list_actions(
        self, principal: Principal, first: int | None, after: str | None
    ) -> Slice[RemediationAction]:
        """Approved actions with their state, newest approval first."""
        limit = page_size(first)
        actions, total = await self._remediations.list_actions(
            organization_id=principal.organization_id, limit=limit + 1, before=_key(after)
        )
        return make_slice(actions, limit=limit, total=total, key=_cursor)

    async def watch(self, principal: Principal) -> AsyncIterator[RemediationAction]:
        """Every state change of the organization's actions, as it happens."""
        org = principal.organization_id
        async for event in self._bus.subscribe(topic_for(org, REMEDIATIONS_CHANNEL)):
            found = await self._remediations.get_many(
                organization_id=org, action_ids=[str(event["action_id"])]
            )
            action = found.get(str(event["action_id"]))
            if action is not None:
                yield action

    async def publish(self, action: RemediationAction) -> None:
        """Tell subscribers an action changed."""
        await self._bus.publish(
            topic_for(action.organization_id, REMEDIATIONS_CHANNEL),
            {"action_id": action.id, "state": action.state.value if action.state else None},
        )

    async def stop(self) -> None:
        """Cancel running executions (their leases expire and another process resumes)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for stopped in self._on_stopped:
            await stopped()

    async def wait_idle(self) -> None:
        """Wait for the running executions (tests, CLI)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


def _merge(planned: RemediationAction, stored: RemediationAction | None) -> RemediationAction:
    if stored is None:
        return planned
    return replace(
        planned,
        state=stored.state,
        approved_by=stored.approved_by,
        approved_at=stored.approved_at,
        updated_at=stored.updated_at,
        calls=stored.calls,
        verification=stored.verification,
        error=stored.error,
        evidence_id=stored.evidence_id,
    )


def _cursor(action: RemediationAction) -> str:
    at = action.approved_at.isoformat() if action.approved_at else ""
    return f"{at}|{action.id}"


def _key(after: str | None) -> tuple[datetime, str] | None:
    key = decode_cursor(after)
    if key is None:
        return None
    at, _, action_id = key.partition("|")
    try:
        return datetime.fromisoformat(at), action_id
    except ValueError:
        raise ValidationFailed("after is not a valid cursor", field=["after"]) from None
