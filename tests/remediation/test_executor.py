"""Remediation execution at the service level (issues 16, 21): leased claims survive a crash
— the next worker finishes what a dead one left and the dead worker's late writes are refused
— one action's failure never stops the others, a refusal that will not pass by itself blocks
the connection's other removals after exactly one call, and an action's evidence is written
once (per attempt) whatever dies in between."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.confluence.errors import ConfluenceForbidden, ConfluenceNotFound
from services.confluence.models import CurrentUser, Member, ResultPage, WriteAnswer
from services.confluence.retry import RetryPolicy
from services.evidence.models import EvidenceEntry, EvidenceRecord
from services.evidence.service import EvidenceService
from services.integrations.models import AuthMethod, Integration, IntegrationStatus, Purpose
from services.models import AccountType
from services.remediation.executor import RemediationExecutor
from services.remediation.models import (
    ActionState,
    ActionStep,
    RemediationAction,
    action_id,
)
from services.store import Store
from tests.evidence.support import KEY
from tests.remediation.builders import offboarding_action

ORG = "org_remediation"
LEASE = timedelta(seconds=60)


class Crash(BaseException):
    """The process dies (escapes every ``except Exception``)."""


class FakeConfluence:
    """Group memberships, the write calls received, and optional failures."""

    def __init__(self, members: dict[str, set[str]]) -> None:
        self.members = members
        self.calls: Counter[tuple[str, str]] = Counter()
        self.forbidden: set[str] = set()  # groups whose removal answers 403
        self.missing: set[str] = set()  # groups whose removal answers 404
        self.crash_on_read = False

    async def current_user(self) -> CurrentUser:
        return CurrentUser("vigil-operator", "Operator", None, AccountType.ATLASSIAN, True)

    async def remove_group_member(self, group_id: str, account_id: str) -> WriteAnswer:
        self.calls[(group_id, account_id)] += 1
        if group_id in self.forbidden:
            raise ConfluenceForbidden(
                403, "DELETE /group/userByGroupId", "User must be a site admin"
            )
        if group_id in self.missing:
            raise ConfluenceNotFound(404, "DELETE /group/userByGroupId", "No group found")
        self.members[group_id].discard(account_id)
        return WriteAnswer(204)

    async def list_group_members(
        self, group_id: str, cursor: str | None = None, limit: int = 200
    ) -> ResultPage[Member]:
        if self.crash_on_read:
            raise Crash
        users = sorted(self.members[group_id])
        return ResultPage([Member(a, AccountType.ATLASSIAN, a, None) for a in users], None)


class Clients:
    def __init__(self, client: FakeConfluence) -> None:
        self.client = client

    async def confluence_for(
        self, integration: Integration, policy: RetryPolicy, http: Any = None
    ) -> Any:
        return self.client


class Recorder:
    """What an executor records, publishes and resyncs, kept for the test to look at."""

    def __init__(self) -> None:
        self.entries: list[EvidenceEntry] = []
        self.published: list[RemediationAction] = []
        self.resynced: list[str] = []

    def wiring(self, store: Store) -> dict[str, Any]:
        """An executor's repositories (of ``store``) and its callbacks (these)."""
        return {
            "integrations": store.integrations,
            "remediations": store.remediations,
            "record_evidence": self.record,
            "publish": self.publish,
            "on_verified": self.resync,
        }

    async def record(self, entry: EvidenceEntry) -> EvidenceRecord:
        self.entries.append(entry)
        n = len(self.entries)
        return EvidenceRecord(
            f"evd_{n}", entry.organization_id, n, entry.check_id, "{}", "", "", "k"
        )

    async def publish(self, action: RemediationAction) -> None:
        self.published.append(action)

    async def resync(self, integration: Integration) -> None:
        self.resynced.append(integration.id)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def setup(
    store: Store, groups: dict[str, set[str]]
) -> tuple[Integration, list[RemediationAction]]:
    integration = await store.integrations.create(
        organization_id=ORG,
        purpose=Purpose.ACCESS_REVIEW,
        auth_method=AuthMethod.API_TOKEN,
        status=IntegrationStatus.CONNECTED,
        sync_interval_minutes=60,
    )
    actions = [
        offboarding_action(
            action_id(ORG, integration.id, group, account),
            ORG,
            integration.id,
            account,
            group_id=group,
            group_name=group,
        )
        for group, accounts in sorted(groups.items())
        for account in sorted(accounts)
    ]
    return integration, actions


def executor(
    store: Store,
    client: FakeConfluence,
    rec: Recorder,
    clock: Clock,
    owner: str,
    failed: list[RemediationAction] | None = None,
) -> RemediationExecutor:
    async def on_action_failed(action: RemediationAction) -> None:
        if failed is not None:
            failed.append(action)

    return RemediationExecutor(
        Clients(client),
        **rec.wiring(store),
        on_action_failed=on_action_failed,
        concurrency=2,
        lease=LEASE,
        owner=owner,
        clock=clock,
    )


async def test_a_crashed_workers_actions_are_finished_by_the_next_without_a_second_call(
    store: Store,
) -> None:
    client = FakeConfluence({"g1": {"acc-1"}, "g2": {"acc-1"}, "g3": {"acc-2"}})
    integration, actions = await setup(store, {g: set(m) for g, m in client.members.items()})
    clock, rec = Clock(), Recorder()
    repo = store.remediations
    await repo.approve(actions, approved_by="key_admin", now=clock())

    # Worker A claims two actions: it dies before calling the first, and after calling the
    # second (DONE recorded) but before reading it back.
    dead = executor(store, client, rec, clock, "A")
    first = await repo.claim(organization_id=ORG, owner="A", ttl=LEASE, now=clock())
    second = await repo.claim(organization_id=ORG, owner="A", ttl=LEASE, now=clock())
    assert first is not None and second is not None
    client.crash_on_read = True
    with pytest.raises(Crash):
        await dead.process(second)
    client.crash_on_read = False
    assert client.calls[(second.action.group_id, second.action.account_id)] == 1

    # Worker B runs while A's leases are live: it finishes only the third action.
    alive = executor(store, client, rec, clock, "B")
    finished = await alive.run(ORG)
    rest = {a.id for a in actions} - {first.action.id, second.action.id}
    assert [a.id for a in finished] == sorted(rest)

    # A's leases expire: B takes them over and finishes them.
    clock.now += LEASE + timedelta(seconds=1)
    finished = await alive.run(ORG)
    assert {a.id for a in finished} == {first.action.id, second.action.id}
    assert all(a.state is ActionState.VERIFIED for a in finished)
    assert set(client.calls.values()) == {1}  # every call made exactly once
    assert len(client.calls) == 3
    assert client.members == {"g1": set(), "g2": set(), "g3": set()}

    # The dead worker wakes up: its writes are fenced out.
    late = await repo.record(first, ActionStep(ActionState.FAILED, error="late"), now=clock())
    assert late is None
    stored = await repo.get_many(organization_id=ORG, action_ids=[a.id for a in actions])
    assert {a.state for a in stored.values()} == {ActionState.VERIFIED}
    assert sorted(e.result["actionId"] for e in rec.entries) == sorted(a.id for a in actions)
    assert all(e.result["verification"]["confirmed"] for e in rec.entries)
    assert rec.resynced == [integration.id, integration.id]  # each run that verified resyncs
    assert await repo.claim(organization_id=ORG, owner="C", ttl=LEASE, now=clock()) is None


class DyingRecorder(Recorder):
    """Evidence whose first append dies with the process (after the action's final write)."""

    def __init__(self) -> None:
        super().__init__()
        self.die = True

    async def record(self, entry: EvidenceEntry) -> EvidenceRecord:
        if self.die:
            self.die = False
            raise Crash
        return await super().record(entry)


async def test_a_worker_dying_before_the_evidence_append_leaves_it_to_the_next(
    store: Store,
) -> None:
    client = FakeConfluence({"g1": {"acc-1"}})
    _, actions = await setup(store, {g: set(m) for g, m in client.members.items()})
    clock, rec = Clock(), DyingRecorder()
    repo = store.remediations
    await repo.approve(actions, approved_by="key_admin", now=clock())
    claim = await repo.claim(organization_id=ORG, owner="A", ttl=LEASE, now=clock())
    assert claim is not None
    with pytest.raises(Crash):  # VERIFIED is stored, then the process dies
        await executor(store, client, rec, clock, "A").process(claim)
    [stored] = (await repo.get_many(organization_id=ORG, action_ids=[claim.action.id])).values()
    assert stored.state is ActionState.VERIFIED and stored.evidence_id is None

    # Nobody else takes it while A's lease lives; once it expires, the next worker writes
    # the evidence without calling Atlassian again.
    assert await repo.claim(organization_id=ORG, owner="B", ttl=LEASE, now=clock()) is None
    clock.now += LEASE + timedelta(seconds=1)
    assert await repo.open_organizations(now=clock()) == [ORG]
    finished = await executor(store, client, rec, clock, "B").run(ORG)
    assert [a.id for a in finished] == [claim.action.id]
    assert [e.result["actionId"] for e in rec.entries] == [claim.action.id]
    assert client.calls[("g1", "acc-1")] == 1
    [stored] = (await repo.get_many(organization_id=ORG, action_ids=[claim.action.id])).values()
    assert stored.evidence_id == "evd_1"
    assert await repo.claim(organization_id=ORG, owner="C", ttl=LEASE, now=clock()) is None


async def test_a_refused_call_fails_its_action_only_and_a_retry_is_a_new_attempt(
    store: Store,
) -> None:
    client = FakeConfluence({"g1": {"acc-1"}, "g2": {"acc-1"}, "g3": {"acc-1"}})
    _, actions = await setup(store, {g: set(m) for g, m in client.members.items()})
    client.missing = {"g2"}
    clock, rec = Clock(), Recorder()
    await store.remediations.approve(actions, approved_by="key_admin", now=clock())
    reported: list[RemediationAction] = []
    finished = await executor(store, client, rec, clock, "A", reported).run(ORG)
    states = {a.group_id: a for a in finished}
    assert {g: a.state for g, a in states.items()} == {
        "g1": ActionState.VERIFIED,
        "g2": ActionState.FAILED,
        "g3": ActionState.VERIFIED,
    }
    failed = states["g2"]
    assert failed.error == "Atlassian answered 404: No group found"
    assert [c.status for c in failed.calls] == [404]
    assert reported == [failed]  # the FAILED action alone is reported (alerts)
    assert len(rec.entries) == 3 and {e.result["status"] for e in rec.entries} == {
        "VERIFIED",
        "FAILED",
    }
    assert {e.unique_key for e in rec.entries} == {f"remediation:{a.id}:1" for a in actions}
    connection = await store.remediations.connection(integration_id=actions[0].integration_id)
    assert connection.refusals == ()  # a 404 concerns that group only
    assert connection.account_id == "vigil-operator"  # learnt once, for the self guard

    # Approving a FAILED action again starts attempt 2; a VERIFIED one is left alone.
    client.missing = set()
    again = await store.remediations.approve(actions, approved_by="key_admin", now=clock())
    assert {a.group_id: (a.state, a.attempt) for a in again}["g2"] == (ActionState.PENDING, 2)
    assert {a.group_id: a.state for a in again}["g1"] is ActionState.VERIFIED
    finished = await executor(store, client, rec, clock, "A").run(ORG)
    assert [(a.group_id, a.state) for a in finished] == [("g2", ActionState.VERIFIED)]
    assert [c.status for c in finished[0].calls] == [204]  # the attempt's own calls
    assert client.calls[("g1", "acc-1")] == 1 and client.calls[("g2", "acc-1")] == 2
    assert rec.entries[-1].unique_key == f"remediation:{failed.id}:2"


async def test_a_site_admin_refusal_is_called_once_and_blocks_the_other_removals(
    store: Store,
) -> None:
    groups = {f"g{i}": {"acc-1", "acc-2"} for i in range(4)}
    client = FakeConfluence({g: set(m) for g, m in groups.items()})
    _, actions = await setup(store, groups)
    client.forbidden = set(groups)
    clock, rec = Clock(), Recorder()
    await store.remediations.approve(actions, approved_by="key_admin", now=clock())
    run = RemediationExecutor(
        Clients(client),
        **rec.wiring(store),
        concurrency=4,  # four workers claim side by side: still one call
        lease=LEASE,
        owner="A",
        clock=clock,
    )
    finished = await run.run(ORG)
    assert sum(client.calls.values()) == 1
    by_state = Counter(a.state for a in finished)
    assert by_state == {ActionState.FAILED: 1, ActionState.CANCELLED: len(actions) - 1}
    [failed] = [a for a in finished if a.state is ActionState.FAILED]
    assert failed.error == "Atlassian answered 403: User must be a site admin"
    for cancelled in (a for a in finished if a.state is ActionState.CANCELLED):
        assert cancelled.calls == ()
        assert cancelled.cancel_reason is not None
        assert "must be a site admin" in cancelled.cancel_reason
        assert "enableConfluenceRemediation" in cancelled.cancel_reason
    connection = await store.remediations.connection(integration_id=actions[0].integration_id)
    assert [r.action_id for r in connection.refusals] == [failed.id]
    assert len(rec.entries) == len(actions)  # every action, cancelled ones too, has its record


async def test_evidence_is_written_once_when_the_worker_dies_after_appending_it(
    store: Store,
) -> None:
    """The append is made, the process dies before the action learns its record's id: the
    next worker's append finds the record by its unique key and writes no second one."""
    client = FakeConfluence({"g1": {"acc-1"}})
    _, actions = await setup(store, {"g1": {"acc-1"}})
    clock = Clock()
    evidence = EvidenceService(
        store.evidence,
        KEY,
        chunks=store.evidence_chunks,
        check_ids=lambda: {"confluence-offboarded-access-removed"},
    )
    repo = store.remediations

    class DyingAfterAppend(Recorder):
        def __init__(self) -> None:
            super().__init__()
            self.die = True

        async def record(self, entry: EvidenceEntry) -> EvidenceRecord:
            record = await evidence.record(entry)
            if self.die:
                self.die = False
                raise Crash
            return record

    await repo.approve(actions, approved_by="key_admin", now=clock())
    claim = await repo.claim(organization_id=ORG, owner="A", ttl=LEASE, now=clock())
    assert claim is not None
    rec = DyingAfterAppend()
    with pytest.raises(Crash):
        await executor(store, client, rec, clock, "A").process(claim)
    clock.now += LEASE + timedelta(seconds=1)
    finished = await executor(store, client, rec, clock, "B").run(ORG)
    assert [a.state for a in finished] == [ActionState.VERIFIED]
    records = [
        r
        async for r in store.evidence.iter_chain(organization_id=ORG)
        if r.content()["result"].get("actionId") == claim.action.id
    ]
    assert len(records) == 1
    [stored] = (await repo.get_many(organization_id=ORG, action_ids=[claim.action.id])).values()
    assert stored.evidence_id == records[0].id
    assert client.calls[("g1", "acc-1")] == 1


async def test_the_worker_loop_resumes_organizations_with_unclaimed_actions(store: Store) -> None:
    from services.events import InMemoryEventBus
    from services.remediation.service import RemediationService

    client = FakeConfluence({"g1": {"acc-1"}})
    _, actions = await setup(store, {"g1": {"acc-1"}})
    clock, rec = Clock(), Recorder()
    await store.remediations.approve(actions, approved_by="key_admin", now=clock())
    # A worker claimed the action and died: nothing resumes it while its lease is live.
    await store.remediations.claim(organization_id=ORG, owner="dead", ttl=LEASE, now=clock())
    assert await store.remediations.open_organizations(now=clock()) == []
    clock.now += LEASE + timedelta(seconds=1)
    assert await store.remediations.open_organizations(now=clock()) == [ORG]

    service = RemediationService(
        InMemoryEventBus(),
        None,  # type: ignore[arg-type]  # the loop never plans
        lambda svc: executor(store, client, rec, clock, "B"),
        remediations=store.remediations,
        clock=clock,
    )
    loop = asyncio.create_task(service.resume_forever(interval=0.01))
    try:
        async with asyncio.timeout(10):
            while not any(a.state is ActionState.VERIFIED for a in rec.published):
                await asyncio.sleep(0.01)
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
        await service.stop()
    assert [a.state for a in rec.published] == [ActionState.DONE, ActionState.VERIFIED]
    assert client.members == {"g1": set()}
