"""Issue 21 "writes as Atlassian answers them", at the service level against the simulator over
HTTP: suspend answering 204, 200 + ``{"message"}`` or 200 with no body, with read-backs lagging
5 s, ends VERIFIED; a lag past the 60-s read-back window ends FAILED with every read-back
recorded; deactivation, a direct role's revocation and the restore of a suspension are read
back the same way. Time is the simulator's clock: the executor's sleeps advance it, so a 60-s
window takes no real minute."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from services.atlassian.directory_admin import DirectoryAdminClient, confluence_resource
from services.confluence.auth import BasicAuth
from services.confluence.client import ConfluenceClient
from services.confluence.retry import RetryPolicy
from services.events import InMemoryEventBus
from services.integrations.models import (
    AuthMethod,
    ConfluenceSite,
    Integration,
    IntegrationStatus,
    Purpose,
)
from services.models import Principal, Role
from services.remediation.executor import RemediationExecutor
from services.remediation.models import (
    ActionKind,
    ActionState,
    RemediationAction,
    SourceType,
    action_id,
)
from services.remediation.service import RemediationService
from services.store import Store
from simulator import RunningSimulator, Simulator, generate_site, start_simulator
from tests.remediation.builders import offboarding_action
from tests.remediation.test_executor import Recorder

ORG = "org_writes"
POLICY = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05)


@pytest.fixture(scope="module")
def running() -> Iterator[RunningSimulator]:
    with start_simulator(Simulator(generate_site(users=150, groups=5, pages=2, seed=21))) as sim:
        yield sim


@pytest.fixture
def sim(running: RunningSimulator) -> Iterator[Simulator]:
    running.sim.reset()
    yield running.sim
    running.sim.reset()  # applies writes still lagging, switches back to the defaults


class Clients:
    def __init__(self, running: RunningSimulator, http: httpx.AsyncClient) -> None:
        self.running, self.http = running, http

    async def confluence_for(
        self, integration: Integration, policy: RetryPolicy, http: Any = None
    ) -> ConfluenceClient:
        token = self.running.sim.credentials.admin_token
        return ConfluenceClient(
            self.http, self.running.site_url(), BasicAuth(token.email, token.token), policy
        )


def accounts(sim: Simulator, *, managed: bool, n: int) -> list[str]:
    """``n`` active accounts of the org directory, managed or not, not operators, untouched."""
    site = sim.site
    operators = set(site.operators.values())
    found = [
        a.account_id
        for a in sorted(site.accounts.values(), key=lambda a: a.account_id)
        if a.account_type == "atlassian"
        and a.account_status == "active"
        and a.account_id not in operators
        and site.is_managed(a) is managed
        and sim.directory_account(a.account_id) is not None
        and sim.membership_status(a.account_id) == "active"
        and site.groups_of(a.account_id)
    ]
    assert len(found) >= n
    return found[:n]


async def integration(store: Store, sim: Simulator) -> Integration:
    return await store.integrations.create(
        organization_id=ORG,
        purpose=Purpose.ACCESS_REVIEW,
        auth_method=AuthMethod.API_TOKEN,
        status=IntegrationStatus.CONNECTED,
        sync_interval_minutes=360,
        site=ConfluenceSite(url="http://sim", cloud_id=sim.site.cloud_id),
        has_admin_key=True,
        admin_org_id=sim.credentials.org_id,
    )


def action(integ: Integration, account: str, kind: ActionKind, **fields: Any) -> RemediationAction:
    target = fields.pop("target", integ.admin_org_id or "")
    return offboarding_action(
        action_id(ORG, integ.id, target, account, kind),
        ORG,
        integ.id,
        account,
        kind=kind,
        group_id=integ.admin_org_id or "",
        group_name="",
        target=target,
        **fields,
    )


def executor(
    store: Store, running: RunningSimulator, http: httpx.AsyncClient, rec: Recorder
) -> RemediationExecutor:
    sim = running.sim

    async def admin(integ: Integration) -> DirectoryAdminClient:
        return DirectoryAdminClient(
            http, sim.credentials.admin_api_key, POLICY, api_base=running.api_url
        )

    async def time_passes(seconds: float) -> None:  # the executor waits: the simulator ages
        sim.clock.advance(seconds)
        await asyncio.sleep(0)

    return RemediationExecutor(
        Clients(running, http),
        **rec.wiring(store),
        directory_admin=admin,
        policy=POLICY,
        clock=sim.clock.now,
        sleep=time_passes,
    )


@pytest.mark.parametrize("answer", ["204", "200-message", "200-empty"])
async def test_a_suspension_read_back_5_s_late_is_verified_whatever_the_2xx(
    store: Store, running: RunningSimulator, sim: Simulator, answer: str
) -> None:
    integ = await integration(store, sim)
    [account] = accounts(sim, managed=False, n=1)
    groups = {g.group_id for g in sim.site.groups_of(account)}
    sim.behaviour.configure(lag_seconds=5, suspend_answer=answer)
    suspend = action(integ, account, ActionKind.SUSPEND_ACCESS)
    await store.remediations.approve([suspend], approved_by="key_admin", now=sim.clock.now())
    rec = Recorder()
    async with httpx.AsyncClient(timeout=10) as http:
        [done] = await executor(store, running, http, rec).run(ORG)
    assert done.state is ActionState.VERIFIED, done
    posts = [c for c in done.calls if c.method == "POST"]
    assert posts and {c.status for c in posts} == {204 if answer == "204" else 200}
    if answer == "200-message":
        assert all(c.message and "suspended" in c.message for c in posts)
    assert all(c.target for c in posts)  # the directories, for a restore
    # The first read-back still saw the account active; a later one saw the suspension.
    assert len(done.read_backs) >= 2
    assert not done.read_backs[0].confirmed and done.read_backs[-1].confirmed
    seen = {(o.field, o.scope.split()[0]): o.value for o in done.read_backs[-1].observed}
    assert seen[("membershipStatus", "organization")] == "suspended"
    assert seen[("userDirectoryStatus", "directory")] == "suspended"
    assert sim.membership_status(account) == "suspended"
    assert {g.group_id for g in sim.site.groups_of(account)} == groups  # nothing stripped
    [entry] = rec.entries
    recorded = entry.result["readBacks"]
    assert len(recorded) == len(done.read_backs) and recorded[-1]["confirmed"] is True
    assert {"field": "membershipStatus", "value": "suspended", "scope": "organization"} in (
        recorded[-1]["observed"]
    )


async def test_a_read_back_lagging_past_the_window_fails_with_every_read_back(
    store: Store, running: RunningSimulator, sim: Simulator
) -> None:
    integ = await integration(store, sim)
    [account] = accounts(sim, managed=False, n=1)
    sim.behaviour.configure(lag_seconds=61)
    suspend = action(integ, account, ActionKind.SUSPEND_ACCESS)
    await store.remediations.approve([suspend], approved_by="key_admin", now=sim.clock.now())
    rec = Recorder()
    async with httpx.AsyncClient(timeout=10) as http:
        [done] = await executor(store, running, http, rec).run(ORG)
    assert done.state is ActionState.FAILED
    assert done.read_backs and not any(r.confirmed for r in done.read_backs)
    called = done.calls[-1].at
    last = done.read_backs[-1]
    assert 60 <= (last.at - called).total_seconds() < 61  # read back to the end of the window
    assert done.error is not None and "did not show the change" in done.error
    assert last.detail in done.error
    assert rec.entries[0].result["verification"]["detail"] == last.detail
    assert len(rec.entries[0].result["readBacks"]) == len(done.read_backs)
    sim.clock.advance(5)
    sim.apply_due_writes()
    assert sim.membership_status(account) == "suspended"  # Atlassian got there, too late


async def test_deactivation_revocation_and_restore_are_read_back(
    store: Store, running: RunningSimulator, sim: Simulator
) -> None:
    integ = await integration(store, sim)
    [managed] = accounts(sim, managed=True, n=1)
    [direct, suspended] = accounts(sim, managed=False, n=2)
    site = sim.site
    site.grant_role(direct, "atlassian/user")
    before = {a: {g.group_id for g in site.groups_of(a)} for a in (managed, suspended)}
    sim.behaviour.configure(lag_seconds=5)
    resource = confluence_resource(site.cloud_id)
    actions = [
        action(integ, managed, ActionKind.DEACTIVATE_ACCOUNT),
        action(
            integ,
            direct,
            ActionKind.REVOKE_ROLE,
            target=f"atlassian/user@{resource}",
            role="atlassian/user",
            resource=resource,
        ),
        action(integ, suspended, ActionKind.SUSPEND_ACCESS),
    ]
    await store.remediations.approve(actions, approved_by="key_admin", now=sim.clock.now())
    rec = Recorder()
    async with httpx.AsyncClient(timeout=10) as http:
        run = executor(store, running, http, rec)
        done = {a.kind: a for a in await run.run(ORG)}
        assert {k: a.state for k, a in done.items()} == dict.fromkeys(done, ActionState.VERIFIED), (
            done
        )
        assert site.get_account(managed).account_status == "inactive"  # type: ignore[union-attr]
        assert "direct" not in site.role_assignments(direct).get("atlassian/user", ())

        # restoreAccess undoes the deactivation and the suspension: the same groups, active.
        service = RemediationService(
            InMemoryEventBus(),
            None,  # type: ignore[arg-type]  # restoring plans nothing
            lambda _: run,
            remediations=store.remediations,
            integrations=store.integrations,
            clock=sim.clock.now,
        )
        admin = Principal(ORG, Role.ADMIN, "key_admin")
        for kind in (ActionKind.DEACTIVATE_ACCOUNT, ActionKind.SUSPEND_ACCESS):
            undo = await service.restore(admin, done[kind].id, True)
            assert undo.state is ActionState.PENDING
        await service.wait_idle()
        listed, _ = await store.remediations.list_actions(
            organization_id=ORG, limit=10, before=None
        )
        undone = {a.kind: a for a in listed if a.source.type is SourceType.RESTORE}
        assert {k: a.state for k, a in undone.items()} == {
            ActionKind.REACTIVATE_ACCOUNT: ActionState.VERIFIED,
            ActionKind.RESTORE_ACCESS: ActionState.VERIFIED,
        }
        restored = undone[ActionKind.RESTORE_ACCESS]
        assert [c.target for c in restored.calls] == [
            c.target for c in done[ActionKind.SUSPEND_ACCESS].calls if c.method == "POST"
        ]
    assert site.get_account(managed).account_status == "active"  # type: ignore[union-attr]
    assert sim.membership_status(suspended) == "active"
    after = {a: {g.group_id for g in site.groups_of(a)} for a in (managed, suspended)}
    assert after == before
    assert sim.has_confluence_access(managed) and sim.has_confluence_access(suspended)
