"""RunQueue, the one owner of runs, on both stores: concurrent submits make one active run
and at most one follow-up, a submit racing a finishing run still gets a run, a claim is
exclusive and reads the integration once, and a claim takes over an abandoned run."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from services.events import InMemoryEventBus
from services.integrations.models import Integration, IntegrationStatus
from services.models import AccountStatus, AccountType
from services.store import Store
from services.sync.models import (
    Lease,
    RunEnd,
    RunRequest,
    SnapshotAccount,
    SnapshotCommit,
    SnapshotScope,
    SyncProgress,
    SyncRun,
    SyncRunStatus,
    SyncTrigger,
)
from services.sync.queue import NOT_CONNECTED, STALE_RUN, Claim, RunQueue
from services.sync.runner import RunnerOptions
from testkit.sync import connected_integration, make_queue


async def _integration(store: Store) -> Integration:
    org = await store.organizations.create(name="Acme")
    return await connected_integration(store, org.id)


async def _runs(store: Store, integration: Integration) -> list[SyncRun]:
    runs, _ = await store.sync_runs.list_by_integration(integration_id=integration.id, limit=50)
    return runs


async def _finish(store: Store, run: SyncRun) -> SyncRun | None:
    return await store.sync_runs.finish(
        run_id=run.id, fence=run.fence, end=RunEnd(SyncRunStatus.SUCCEEDED, SyncProgress())
    )


async def test_concurrent_submits_queue_one_run_and_one_follow_up(store: Store) -> None:
    queue = make_queue(store)
    integration = await _integration(store)

    submitted = await asyncio.gather(
        *(queue.submit(integration, SyncTrigger.MANUAL, follow_up=True) for _ in range(12))
    )
    assert len({r.id for r in submitted}) == 1  # every caller got the same QUEUED run
    assert all(r.status is SyncRunStatus.QUEUED and r.follow_up is None for r in submitted)

    async with queue.claim(integration.id) as claim:
        assert claim is not None and claim.run.id == submitted[0].id
        triggers = [SyncTrigger.INITIAL, SyncTrigger.MANUAL] * 6
        during = await asyncio.gather(
            *(queue.submit(integration, t, follow_up=True) for t in triggers)
        )
        assert {r.id for r in during} == {claim.run.id}  # the running run, asked once more
        assert all(r.status is SyncRunStatus.RUNNING and r.follow_up for r in during)
        assert len(await _runs(store, integration)) == 1
        finished = await _finish(store, claim.run)
    assert finished is not None and finished.follow_up is not None

    # The runner queues the follow-up while a scheduler and mutations submit: one run.
    after = await asyncio.gather(
        *(queue.follow_up(finished) for _ in range(6)),
        *(queue.submit(integration, SyncTrigger.SCHEDULED) for _ in range(6)),
    )
    active = await store.sync_runs.get_active(integration_id=integration.id)
    assert active is not None and active.status is SyncRunStatus.QUEUED
    assert {r.id for r in after if r is not None} == {active.id}
    assert len(await _runs(store, integration)) == 2  # the first run and one follow-up


async def test_a_submit_racing_a_finishing_run_still_gets_a_run(store: Store) -> None:
    queue = make_queue(store)
    integration = await _integration(store)
    queued = await queue.submit(integration, SyncTrigger.INITIAL)
    async with queue.claim(integration.id) as claim:
        assert claim is not None

        async def end_run() -> SyncRun | None:
            return await queue.follow_up(await _finish(store, claim.run))

        results = await asyncio.gather(
            *(queue.submit(integration, SyncTrigger.MANUAL, follow_up=True) for _ in range(8)),
            end_run(),
        )
    submitted = [r for r in results[:-1] if r is not None]
    assert len(submitted) == 8  # nobody was refused (SYNC_BUSY)
    runs = await _runs(store, integration)
    assert len(runs) == 2  # the finished run, and exactly one run after it
    after = next(r for r in runs if r.id != queued.id)
    assert after.status is SyncRunStatus.QUEUED and after.trigger is SyncTrigger.MANUAL
    for run in submitted:  # each asked the running run for a follow-up, or got the next run
        assert run.id == after.id or (run.id == queued.id and run.follow_up)


class EndsBetween:
    """The runs repository, where the active run ends right after the submit's first call
    (``create`` collides, or ``get_active`` finds it RUNNING) and before its next one."""

    def __init__(self, store: Store, on: str) -> None:
        self.runs = store.sync_runs
        self.on = on
        self.ended: SyncRun | None = None

    async def create(self, request: RunRequest) -> SyncRun | None:
        created = await self.runs.create(request)
        if self.on == "create" and created is None:
            await self._end(request.integration_id)
        return created

    async def get_active(self, *, integration_id: str) -> SyncRun | None:
        active = await self.runs.get_active(integration_id=integration_id)
        if self.on == "get_active" and active is not None:
            await self._end(integration_id)
        return active

    async def request_follow_up(self, **fields: Any) -> SyncRun | None:
        return await self.runs.request_follow_up(**fields)

    async def claim(self, **fields: Any) -> SyncRun | None:
        return await self.runs.claim(**fields)

    async def finish(self, **fields: Any) -> SyncRun | None:
        return await self.runs.finish(**fields)

    async def _end(self, integration_id: str) -> None:
        if self.ended is not None:
            return
        active = await self.runs.get_active(integration_id=integration_id)
        assert active is not None
        if active.status is SyncRunStatus.QUEUED:
            active = await self.runs.claim(run_id=active.id, owner="w", fence=9)
            assert active is not None
        self.ended = await self.runs.finish(
            run_id=active.id, fence=9, end=RunEnd(SyncRunStatus.SUCCEEDED, SyncProgress())
        )


async def test_a_run_ending_between_two_calls_of_a_submit_is_followed_by_a_new_run(
    store: Store,
) -> None:
    integration = await _integration(store)
    for on, follow_up in (("create", False), ("get_active", True)):
        first = await make_queue(store).submit(integration, SyncTrigger.SCHEDULED)
        if on == "get_active":  # a RUNNING run, which ends before it is asked for a follow-up
            await store.sync_runs.claim(run_id=first.id, owner="w", fence=9)
        runs = EndsBetween(store, on)
        queue = RunQueue(
            InMemoryEventBus(),
            RunnerOptions(owner="w"),
            integrations=store.integrations,
            sync_runs=runs,
            sync_leases=store.sync_leases,
            snapshot_data=store.snapshot_data,
        )
        run = await queue.submit(integration, SyncTrigger.MANUAL, follow_up=follow_up)
        assert runs.ended is not None and runs.ended.id == first.id  # it did end in between
        assert run.id != first.id and run.status is SyncRunStatus.QUEUED, on
        assert run.trigger is SyncTrigger.MANUAL
        claimed = await store.sync_runs.claim(run_id=run.id, owner="w", fence=1)
        assert claimed is not None and await _finish(store, claimed) is not None


async def test_a_claim_is_exclusive(store: Store) -> None:
    integration = await _integration(store)
    queued = await make_queue(store).submit(integration, SyncTrigger.MANUAL)
    queues = [make_queue(store, options=RunnerOptions(owner=f"worker-{i}")) for i in range(4)]
    everyone_tried = asyncio.Barrier(len(queues))
    claims: list[Claim | None] = []

    async def take(queue: RunQueue) -> None:
        async with queue.claim(integration.id) as claim:
            claims.append(claim)
            if claim is not None:
                lease = await store.sync_leases.get(integration_id=integration.id)
                assert lease is not None and lease.run_id == claim.run.id
            await everyone_tried.wait()  # nobody lets go before every worker has tried

    await asyncio.gather(*(take(q) for q in queues))
    won = [c for c in claims if c is not None]
    assert len(claims) == 4 and len(won) == 1
    claim = won[0]
    assert claim.run.id == queued.id and claim.run.status is SyncRunStatus.RUNNING
    assert claim.run.owner == claim.lease.owner and claim.run.fence == claim.lease.token
    stored = await store.sync_runs.get(run_id=queued.id)
    assert stored is not None and stored.owner == claim.lease.owner
    assert await store.sync_leases.get(integration_id=integration.id) is None  # released


async def test_a_claim_reads_the_integration_once_with_its_run_running(store: Store) -> None:
    integration = await _integration(store)
    seen: list[SyncRunStatus | None] = []

    class Integrations:
        async def get_by_id(self, *, integration_id: str) -> Integration | None:
            active = await store.sync_runs.get_active(integration_id=integration_id)
            seen.append(active.status if active else None)
            return await store.integrations.get_by_id(integration_id=integration_id)

    queue = RunQueue(
        InMemoryEventBus(),
        RunnerOptions(owner="w"),
        integrations=Integrations(),
        sync_runs=store.sync_runs,
        sync_leases=store.sync_leases,
        snapshot_data=store.snapshot_data,
    )
    await queue.submit(integration, SyncTrigger.MANUAL)
    # Changed after the submit, before the claim (as an admin key may be): the run sees it.
    await store.integrations.update(integration_id=integration.id, sync_interval_minutes=15)
    async with queue.claim(integration.id) as claim:
        assert claim is not None and claim.integration.sync_interval_minutes == 15
    assert seen == [SyncRunStatus.RUNNING]


async def test_a_claim_takes_over_an_abandoned_run_and_fails_a_disconnected_one(
    store: Store,
) -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    later = RunnerOptions(owner="w", clock=lambda: t0 + timedelta(seconds=11))
    queue = make_queue(store, options=later)
    for connected in (True, False):
        integration = await _integration(store)
        stale = await queue.submit(integration, SyncTrigger.MANUAL)
        dead = await store.sync_leases.acquire(
            integration_id=integration.id, owner="dead", ttl=timedelta(seconds=10), now=t0
        )
        assert dead is not None
        await store.sync_runs.claim(run_id=stale.id, owner="dead", fence=dead.token)
        if not connected:
            await store.integrations.update(
                integration_id=integration.id, status=IntegrationStatus.DISCONNECTED
            )
        async with queue.claim(integration.id) as claim:
            if connected:  # a replacement with the same trigger, under the newer token
                assert claim is not None and claim.run.id != stale.id
                assert claim.run.trigger is SyncTrigger.MANUAL
                assert claim.run.fence == dead.token + 1
            else:  # nothing to replace it with
                assert claim is None
        failed = await store.sync_runs.get(run_id=stale.id)
        assert failed is not None and failed.status is SyncRunStatus.FAILED
        assert failed.error == STALE_RUN
        assert len(await _runs(store, integration)) == (2 if connected else 1)

    # A queued run of an integration disconnected before its claim fails there.
    integration = await _integration(store)
    queued = await queue.submit(integration, SyncTrigger.MANUAL)
    await store.integrations.update(
        integration_id=integration.id, status=IntegrationStatus.DISCONNECTED
    )
    async with queue.claim(integration.id) as claim:
        assert claim is None
    failed = await store.sync_runs.get(run_id=queued.id)
    assert failed is not None and failed.status is SyncRunStatus.FAILED
    assert failed.error == NOT_CONNECTED


class CommitsBeforeTheAnnounce:
    """The leases repository, where the worker that lost its lease commits its (complete)
    snapshot between the new holder's acquire and its announce (ADR 003)."""

    def __init__(self, store: Store, old_token: int, snapshot_id: str) -> None:
        self.leases = store.sync_leases
        self.old_token, self.snapshot_id = old_token, snapshot_id

    async def acquire(self, **fields: Any) -> Lease | None:
        return await self.leases.acquire(**fields)

    async def announce_fence(self, *, integration_id: str, token: int) -> None:
        committed = await self.leases.commit_snapshot(
            SnapshotCommit(integration_id, self.old_token, self.snapshot_id, datetime.now(UTC))
        )
        assert committed  # not fenced out yet
        await self.leases.announce_fence(integration_id=integration_id, token=token)

    async def set_run(self, **fields: Any) -> bool:
        return await self.leases.set_run(**fields)

    async def release(self, **fields: Any) -> None:
        await self.leases.release(**fields)


async def test_a_takeover_keeps_the_snapshot_the_old_holder_committed_just_before(
    store: Store,
) -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    integration = await _integration(store)
    stale = await make_queue(store).submit(integration, SyncTrigger.MANUAL)
    dead = await store.sync_leases.acquire(
        integration_id=integration.id, owner="dead", ttl=timedelta(seconds=10), now=t0
    )
    assert dead is not None
    await store.sync_leases.announce_fence(integration_id=integration.id, token=dead.token)
    await store.sync_runs.claim(run_id=stale.id, owner="dead", fence=dead.token)
    scope = SnapshotScope(stale.snapshot_id, integration.id, integration.organization_id)
    account = SnapshotAccount(
        "acc-1", "Ada", None, AccountType.ATLASSIAN, AccountStatus.ACTIVE, None, ()
    )
    await store.snapshot_data.insert_accounts(scope, [account])
    await store.snapshot_data.record_counts(stale.snapshot_id)  # all it collected

    queue = RunQueue(
        InMemoryEventBus(),
        RunnerOptions(owner="w", clock=lambda: t0 + timedelta(seconds=11)),
        integrations=store.integrations,
        sync_runs=store.sync_runs,
        sync_leases=CommitsBeforeTheAnnounce(store, dead.token, stale.snapshot_id),
        snapshot_data=store.snapshot_data,
    )
    async with queue.claim(integration.id) as claim:
        assert claim is not None and claim.run.id != stale.id
    current = await store.integrations.get_by_id(integration_id=integration.id)
    assert current is not None and current.current_snapshot_id == stale.snapshot_id
    assert (await store.snapshot_data.counts(stale.snapshot_id)).accounts == 1  # still there
