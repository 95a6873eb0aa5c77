"""The remediation API of the service layer: plan (any role); execute and restore (ADMIN +
confirm); cancel (ADMIN)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime
from functools import partial
from typing import Protocol

from services.api_keys import require_confirmed_admin, require_role
from services.clock import Clock, utcnow_ms
from services.errors import Conflict, NotFound, ValidationFailed
from services.events import EventBus, topic_for
from services.integrations.models import Integration
from services.models import Principal, Role
from services.paging import (
    Slice,
    time_slice,
)
from services.remediation.executor import RemediationExecutor
from services.remediation.models import (
    VALID_CHECK,
    ActionKind,
    ActionSource,
    ActionState,
    RemediationAction,
    SourceType,
    action_id,
)
from services.remediation.planner import RemediationPlanner, admin_problem
from services.tasks import cancel_and_wait

log = logging.getLogger(__name__)

REMEDIATIONS_CHANNEL = "remediations"
MAX_ACTIONS = 500
NOT_CONFIRMED = "nothing was called: set confirm: true to let Vigil change Atlassian"


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
    async def cancel(
        self, actions: Sequence[RemediationAction], *, reason: str, cancelled_by: str, now: datetime
    ) -> list[RemediationAction]: ...
    async def get_many(
        self, *, organization_id: str, action_ids: Sequence[str]
    ) -> dict[str, RemediationAction]: ...
    async def list_actions(
        self, *, organization_id: str, limit: int, before: tuple[datetime, str] | None
    ) -> tuple[list[RemediationAction], int]: ...
    async def open_organizations(self, *, now: datetime) -> list[str]: ...


class IntegrationsRepo(Protocol):
    """The ``IntegrationRepository`` methods ``RemediationService`` calls."""

    async def get(self, *, organization_id: str, integration_id: str) -> Integration | None: ...


@dataclass(eq=False, repr=False)
class RemediationService:
    """Plans, approves, cancels, undoes and runs remediation actions; publishes each change.

    ``on_stopped`` also run when the service stops (e.g. pending follow-up syncs).
    """

    bus: EventBus
    planner: RemediationPlanner
    executor_factory: Callable[[RemediationService], RemediationExecutor]
    _: KW_ONLY
    remediations: RemediationsRepo
    integrations: IntegrationsRepo | None = None
    on_stopped: Sequence[Callable[[], Awaitable[None]]] = ()
    clock: Clock = utcnow_ms
    resume_seconds: float = 30.0
    executor: RemediationExecutor = field(init=False)
    _tasks: set[asyncio.Task[None]] = field(init=False, default_factory=set)

    def __post_init__(self) -> None:
        self.on_stopped = tuple(self.on_stopped)
        self.executor = self.executor_factory(self)

    async def plan(
        self, principal: Principal, plan_filter: PlanFilter | None = None
    ) -> list[RemediationAction]:
        """What would be changed and why, with the state of actions already approved."""
        actions = await self.planner.plan(principal.organization_id)
        f = plan_filter or PlanFilter()
        return [
            a
            for a in actions
            if f.account_id in (None, a.account_id) and f.source in (None, a.source.type)
        ]

    async def execute(
        self, principal: Principal, action_ids: Sequence[str], confirm: bool
    ) -> list[RemediationAction]:
        """Approve actions of the current plan and start carrying them out (ADMIN, confirm)."""
        require_confirmed_admin(principal, confirm, NOT_CONFIRMED)
        ids = _ids(action_ids)
        planned = {a.id: a for a in await self.planner.plan(principal.organization_id)}
        stored = await self.remediations.get_many(
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
        # An id no longer planned but stored is an action already carried out (or one whose
        # reason is gone): it is returned as it is, never called again.
        wanted = [planned[i] for i in ids if i in planned]
        approved = await self.remediations.approve(
            wanted, approved_by=principal.actor_id, now=self.clock()
        )
        self.start(principal.organization_id)
        by_id = {a.id: a for a in approved} | {i: a for i, a in stored.items() if i not in planned}
        return [by_id[i] for i in ids]

    async def cancel(
        self, principal: Principal, action_ids: Sequence[str]
    ) -> list[RemediationAction]:
        """Stop approved actions not yet called (ADMIN): PENDING → CANCELLED, with evidence.

        An action already being called (CALLING) or further cannot be stopped: it is
        returned in its state. Unknown ids are refused before anything changes."""
        require_role(principal, Role.ADMIN)
        ids = _ids(action_ids)
        org = principal.organization_id
        stored = await self.remediations.get_many(organization_id=org, action_ids=ids)
        missing = [i for i in ids if i not in stored]
        if missing:
            raise NotFound(
                f"no approved remediation action {', '.join(missing[:5])}", field=["actionIds"]
            )
        late = [stored[i] for i in ids if stored[i].state not in _CANCELLABLE]
        if late:
            a = late[0]
            state = a.state.value if a.state else "planned"
            raise Conflict(
                f"action {a.id} is {state}: only PENDING actions (not yet called) can be cancelled",
                field=["actionIds"],
                code="NOT_CANCELLABLE",
            )
        cancelled = await self.remediations.cancel(
            [stored[i] for i in ids if stored[i].state is ActionState.PENDING],
            reason=f"cancelled by {principal.actor_id}",
            cancelled_by=principal.actor_id,
            now=self.clock(),
        )
        if cancelled:
            self.start(org)  # their evidence records
        now = await self.remediations.get_many(organization_id=org, action_ids=ids)
        return [now[i] for i in ids]

    async def restore(
        self, principal: Principal, action_id: str, confirm: bool
    ) -> RemediationAction:
        """Undo a VERIFIED suspension or deactivation made by Vigil (ADMIN, confirm): restore
        the account's access in the directories it was suspended in, or reactivate it. The
        account keeps what it had: suspension and deactivation remove no group or role."""
        require_confirmed_admin(principal, confirm, NOT_CONFIRMED)
        org = principal.organization_id
        found = await self.remediations.get_many(organization_id=org, action_ids=[action_id])
        original = found.get(action_id)
        if original is None:
            raise NotFound(f"no remediation action {action_id}", field=["actionId"])
        if original.kind not in _UNDO or original.state is not ActionState.VERIFIED:
            state = original.state.value if original.state else "planned"
            raise Conflict(
                f"action {action_id} is a {state} {original.kind.value}: only a VERIFIED "
                "SUSPEND_ACCESS or DEACTIVATE_ACCOUNT made by Vigil can be restored",
                field=["actionId"],
                code="INVALID_STATE",
            )
        undo = _undo(original)
        integration = (
            await self.integrations.get(organization_id=org, integration_id=undo.integration_id)
            if self.integrations is not None
            else None
        )
        problem = admin_problem(integration) if integration else "the integration is gone"
        if problem is not None:
            raise Conflict(f"cannot restore: {problem}", field=["actionId"], code="NOT_GRANTED")
        [approved] = await self.remediations.approve(
            [undo], approved_by=principal.actor_id, now=self.clock()
        )
        self.start(org)
        return approved

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

    async def resume_forever(self, interval: float | None = None) -> None:
        """Worker loop: finish open actions whose worker died (their lease expired)."""
        interval = self.resume_seconds if interval is None else interval
        while True:
            try:
                now = self.clock()
                for org in await self.remediations.open_organizations(now=now):
                    if not self._tasks:
                        self.start(org)
            except Exception:
                log.exception("could not resume remediation actions")
            await asyncio.sleep(interval)

    async def list_actions(
        self, principal: Principal, first: int | None, after: str | None
    ) -> Slice[RemediationAction]:
        """Approved actions with their state, newest approval first."""
        org = principal.organization_id
        actions = partial(self.remediations.list_actions, organization_id=org)
        return await time_slice(actions, first, after, key=lambda a: (a.approved_at, a.id))

    async def watch(self, principal: Principal) -> AsyncIterator[RemediationAction]:
        """Every state change of the organization's actions, as it happens (read when its
        event arrives). A final state is sent once its evidence record is stored: an event
        read late can find the action final before its evidence id is written, and the
        executor announces it again once it is, so nobody sees a final action without it."""
        org = principal.organization_id
        async for event in self.bus.subscribe(topic_for(org, REMEDIATIONS_CHANNEL)):
            found = await self.remediations.get_many(
                organization_id=org, action_ids=[str(event["action_id"])]
            )
            action = found.get(str(event["action_id"]))
            if action is None or (
                action.state is not None and action.state.final and not action.evidence_id
            ):
                continue
            yield action

    async def publish(self, action: RemediationAction) -> None:
        """Tell subscribers an action changed."""
        await self.bus.publish(
            topic_for(action.organization_id, REMEDIATIONS_CHANNEL),
            {"action_id": action.id, "state": action.state.value if action.state else None},
        )

    async def stop(self) -> None:
        """Cancel running executions (their leases expire and another process resumes)."""
        await cancel_and_wait(self._tasks)
        for stopped in self.on_stopped:
            await stopped()

    async def wait_idle(self) -> None:
        """Wait for the running executions (tests, CLI)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


_CANCELLABLE = (ActionState.PENDING, ActionState.CANCELLED)
_UNDO = {
    ActionKind.SUSPEND_ACCESS: ActionKind.RESTORE_ACCESS,
    ActionKind.DEACTIVATE_ACCOUNT: ActionKind.REACTIVATE_ACCOUNT,
}


def _ids(action_ids: Sequence[str]) -> list[str]:
    ids = list(dict.fromkeys(str(i) for i in action_ids))
    if not ids:
        raise ValidationFailed("give at least one action id", field=["actionIds"])
    if len(ids) > MAX_ACTIONS:
        raise ValidationFailed(f"at most {MAX_ACTIONS} actions at once", field=["actionIds"])
    return ids


def _undo(original: RemediationAction) -> RemediationAction:
    """The action that undoes a VERIFIED suspension or deactivation."""
    kind = _UNDO[original.kind]
    suspended = tuple(
        c.target
        for c in original.calls
        if c.method == "POST" and c.target and c.status is not None and 200 <= c.status < 300
    )
    source = original.source
    check_id = source.check_id if source.type is SourceType.CHECK else VALID_CHECK
    what = "restore its access in the directories" if suspended else "reactivate the account"
    if kind is ActionKind.RESTORE_ACCESS and not suspended:
        what = "restore its access in every directory"
    return RemediationAction(
        id=action_id(
            original.organization_id,
            original.integration_id,
            original.id,
            original.account_id,
            kind,
        ),
        organization_id=original.organization_id,
        integration_id=original.integration_id,
        account_id=original.account_id,
        display_name=original.display_name,
        kind=kind,
        group_id=original.group_id,
        group_name="",
        target=original.id,
        directories=suspended if kind is ActionKind.RESTORE_ACCESS else (),
        reason=f"undo {original.id} ({original.kind.value}: {original.reason}): {what}",
        source=ActionSource(
            SourceType.RESTORE,
            check_id=check_id,
            resource_id=original.account_id,
            action_id=original.id,
        ),
    )
