"""Which actions the connection's grant allows (issue 16): an OAuth grant without
``write:confluence-groups`` makes every action non-executable, says why, and
``executeRemediation`` refuses it before anything is stored or called."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from services.errors import Conflict, Forbidden, NotFound, ValidationFailed
from services.events import InMemoryEventBus, topic_for
from services.integrations.models import AuthMethod, Integration, IntegrationStatus
from services.models import Principal, Role
from services.remediation.models import (
    WRITE_SCOPE,
    ActionState,
    RemediationAction,
)
from services.remediation.planner import grant_problem
from services.remediation.service import REMEDIATIONS_CHANNEL, RemediationService
from services.store import Store
from testkit.sync import integration_at
from tests.remediation.builders import offboarding_action

NOW = datetime(2026, 11, 30, tzinfo=UTC)
READ_SCOPES = ("offline_access", "read:confluence-groups", "read:confluence-user")


def integration(method: AuthMethod, scopes: tuple[str, ...] = READ_SCOPES) -> Integration:
    return integration_at(NOW, auth_method=method, granted_scopes=scopes)


def test_api_tokens_may_try_and_oauth_needs_the_write_scope() -> None:
    assert grant_problem(integration(AuthMethod.API_TOKEN, ())) is None
    for method in (AuthMethod.OAUTH, AuthMethod.CLIENT_CREDENTIALS):
        problem = grant_problem(integration(method))
        assert problem is not None and WRITE_SCOPE in problem
        assert grant_problem(integration(method, (*READ_SCOPES, WRITE_SCOPE))) is None
        granular = (*READ_SCOPES, "write:group:confluence")  # the granular scope is enough too
        assert grant_problem(integration(method, granular)) is None
    reauth = replace(integration(AuthMethod.API_TOKEN), status=IntegrationStatus.NEEDS_REAUTH)
    assert "NEEDS_REAUTH" in (grant_problem(reauth) or "")


class StubPlanner:
    def __init__(self, actions: list[RemediationAction]) -> None:
        self.actions = actions

    async def plan(self, organization_id: str) -> list[RemediationAction]:
        return self.actions


class NoExecutor:
    async def run(self, organization_id: str) -> list[RemediationAction]:
        raise AssertionError("nothing may run")


def action(executable: bool) -> RemediationAction:
    planned = offboarding_action("rem_1", "org_1", "int_1", "acc-1", group_id="g1")
    problem = grant_problem(integration(AuthMethod.OAUTH))
    assert problem is not None
    return planned if executable else planned.blocked(problem)


def service(store: Store, actions: list[RemediationAction]) -> RemediationService:
    return RemediationService(
        InMemoryEventBus(),
        StubPlanner(actions),  # type: ignore[arg-type]
        lambda _: NoExecutor(),  # type: ignore[arg-type,return-value]
        remediations=store.remediations,
    )


ADMIN = Principal("org_1", Role.ADMIN, "key_admin")


async def test_a_blocked_action_is_refused_before_anything_is_stored(store: Store) -> None:
    svc = service(store, [action(executable=False)])
    plan = await svc.plan(ADMIN)
    assert [(a.executable, a.state) for a in plan] == [(False, None)]
    assert plan[0].blocked_reason and "enableConfluenceRemediation" in plan[0].blocked_reason
    with pytest.raises(Conflict) as refused:
        await svc.execute(ADMIN, ["rem_1"], True)
    assert refused.value.code == "NOT_GRANTED" and WRITE_SCOPE in refused.value.message
    assert (await store.remediations.list_actions(organization_id="org_1", limit=5, before=None))[
        1
    ] == 0


async def test_role_confirmation_and_ids_are_checked_first(store: Store) -> None:
    svc = service(store, [action(executable=True)])
    for role in (Role.VIEWER, Role.REVIEWER):
        with pytest.raises(Forbidden):
            await svc.execute(Principal("org_1", role, "key_x"), ["rem_1"], True)
    with pytest.raises(ValidationFailed) as unconfirmed:
        await svc.execute(ADMIN, ["rem_1"], False)
    assert unconfirmed.value.code == "CONFIRMATION_REQUIRED"
    with pytest.raises(NotFound):
        await svc.execute(ADMIN, ["rem_other"], True)
    stored = await store.remediations.list_actions(organization_id="org_1", limit=5, before=None)
    assert stored[1] == 0


async def test_a_final_state_is_pushed_once_its_evidence_is_stored() -> None:
    """An event read late can find the action VERIFIED before its evidence id is written;
    that read is not pushed (the executor announces the action again once it is)."""
    stored = {"rem_1": replace(action(executable=True), state=ActionState.DONE)}

    reads = [0]

    class Actions:
        async def get_many(
            self, *, organization_id: str, action_ids: list[str]
        ) -> dict[str, RemediationAction]:
            reads[0] += 1
            return {i: stored[i] for i in action_ids if i in stored}

    bus = InMemoryEventBus()
    svc = RemediationService(
        bus,
        StubPlanner([]),  # type: ignore[arg-type]
        lambda _: NoExecutor(),  # type: ignore[arg-type,return-value]
        remediations=Actions(),  # type: ignore[arg-type]
    )
    pushed: list[RemediationAction] = []

    async def collect() -> None:
        async for found in svc.watch(ADMIN):
            pushed.append(found)

    task = asyncio.create_task(collect())
    try:
        async with asyncio.timeout(10):
            while bus.subscriber_count(topic_for("org_1", REMEDIATIONS_CHANNEL)) == 0:
                await asyncio.sleep(0.01)
            await svc.publish(stored["rem_1"])  # DONE: pushed
            while len(pushed) < 1:
                await asyncio.sleep(0.01)
            stored["rem_1"] = replace(stored["rem_1"], state=ActionState.VERIFIED)
            await svc.publish(stored["rem_1"])  # final, its evidence not stored yet: held
            while reads[0] < 2:  # read while the evidence id is missing
                await asyncio.sleep(0.01)
            stored["rem_1"] = replace(stored["rem_1"], evidence_id="evd_1")
            await svc.publish(stored["rem_1"])  # announced again once it is: pushed
            while len(pushed) < 2:
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert [(a.state, a.evidence_id) for a in pushed] == [
        (ActionState.DONE, None),
        (ActionState.VERIFIED, "evd_1"),
    ]
