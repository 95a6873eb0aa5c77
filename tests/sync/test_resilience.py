"""Faults, failures half-way, kills and refused credentials never damage the current snapshot."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from services.confluence import paths
from services.confluence.retry import RetryPolicy
from services.events import InMemoryEventBus, topic_for
from services.integrations.models import Integration, IntegrationStatus, Purpose
from services.models import AccountStatus, Principal, Role
from services.store import Store
from services.sync.models import AccountFilter, SnapshotCounts, SyncRun, SyncRunStatus
from services.sync.progress import SYNC_CHANNEL
from services.sync.reads import SnapshotReader
from simulator import RunningSimulator, Simulator, generate_site, start_simulator
from testkit.live import open_store
from testkit.sync import connected_integration, make_runner, sync_now
from tests.sync.support import RecordingSleep, fast_policy, static_connectors

MEMBERS_ROUTE = "GET /wiki/rest/api/group/{groupId}/membersByGroupId"


async def _snapshot(store: Store, run: SyncRun) -> tuple[list[Any], list[Any]]:
    accounts = [a async for a in store.snapshot_queries.iter_accounts(snapshot_id=run.snapshot_id)]
    pages = [p async for p in store.snapshot_queries.iter_pages(snapshot_id=run.snapshot_id)]
    return accounts, pages


async def _org_with(store: Store, purpose: Purpose = Purpose.ACCESS_REVIEW) -> Integration:
    org = await store.organizations.create(name="Acme")
    return await connected_integration(store, org.id, purpose)


@pytest.fixture(scope="module")
def medium_sim() -> Iterator[RunningSimulator]:
    sim = Simulator(generate_site(users=1000, groups=80, pages=200, seed=8))
    with start_simulator(sim) as running:
        yield running


async def test_faulty_site_gives_the_same_snapshot(
    store: Store, medium_sim: RunningSimulator
) -> None:
    await _faults_change_nothing(store, medium_sim, "json")


async def test_faulty_site_with_cut_connections_gives_the_same_snapshot(
    medium_sim: RunningSimulator,
) -> None:
    store = open_store("mock", None)
    await store.ensure_indexes()
    await _faults_change_nothing(store, medium_sim, "length")


async def _faults_change_nothing(
    store: Store, running: RunningSimulator, truncate_mode: str
) -> None:
    sim = running.sim
    sim.reset()
    policy = fast_policy(max_attempts=8)  # 0.15^8: a request never exhausts its retries here
    runner = make_runner(store, static_connectors(running, policy=policy))
    clean: dict[Purpose, SyncRun] = {}
    faulty: dict[Purpose, SyncRun] = {}
    for purpose in Purpose:
        run = await sync_now(runner, await _org_with(store, purpose))
        assert run is not None and run.status is SyncRunStatus.SUCCEEDED
        clean[purpose] = run

    sim.reset()
    sim.faults.configure(
        rate_429=0.04,
        rate_503=0.04,
        rate_drop=0.04,
        rate_truncate=0.04,
        truncate_mode=truncate_mode,
        retry_after=2,
    )
    try:
        for purpose in Purpose:
            run = await sync_now(runner, await _org_with(store, purpose))
            assert run is not None and run.status is SyncRunStatus.SUCCEEDED, run.error
            faulty[purpose] = run
    finally:
        sim.faults.clear()
    injected = sim.counters.faults()
    attempts = sim.counters.count()

    for purpose in Purpose:
        assert await _snapshot(store, faulty[purpose]) == await _snapshot(store, clean[purpose])
        assert faulty[purpose].counts == clean[purpose].counts
    assert injected >= 0.08 * attempts and injected >= 10
    retries = sum(r.progress.retries for r in faulty.values())
    assert retries == injected  # every injected fault was retried, and recorded on its run
    assert sum(r.progress.rate_limit_waits for r in faulty.values()) == sim.counters.faults("429")
    assert sum(r.progress.requests_made for r in faulty.values()) == attempts
    sleep = policy.sleep
    assert isinstance(sleep, RecordingSleep)
    assert len(sleep.waits) == injected
    assert sum(w >= 2 for w in sleep.waits) >= sim.counters.faults("429")  # Retry-After honoured


async def test_failure_half_way_keeps_the_previous_snapshot(
    store: Store, small_sim: RunningSimulator
) -> None:
    sim = small_sim.sim
    integration = await _org_with(store)
    runner = make_runner(store, static_connectors(small_sim))
    reader = SnapshotReader(
        integrations=store.integrations, snapshot_queries=store.snapshot_queries
    )
    principal = Principal(integration.organization_id, Role.VIEWER, "key")
    first = await sync_now(runner, integration)
    assert first is not None and first.status is SyncRunStatus.SUCCEEDED
    before = await reader.accounts(principal, None, 500, None)

    # The site changes, then the next run dies on a members page (500 is never retried).
    operators = set(sim.site.operators.values())
    victim = next(a for a in sim.site.member_account_ids() if a not in operators)
    sim.site.set_account_status(victim, "closed")
    sim.faults.script("status", MEMBERS_ROUTE, times=1, status=500, body="boom")
    failed = await sync_now(runner, integration)
    assert failed is not None and failed.status is SyncRunStatus.FAILED
    assert failed.error_endpoint == paths.GROUP_MEMBERS
    assert "HTTP 500" in (failed.error or "")
    assert failed.progress.phase == "failed" and failed.finished_at is not None

    current = await store.integrations.get_by_id(integration_id=integration.id)
    assert current is not None and current.current_snapshot_id == first.snapshot_id
    assert current.status is IntegrationStatus.CONNECTED
    assert await store.snapshot_data.counts(first.snapshot_id) == first.counts
    assert await store.snapshot_data.counts(failed.snapshot_id) == SnapshotCounts()
    after = await reader.accounts(principal, None, 500, None)
    assert after == before  # queries keep answering from the previous snapshot

    again = await sync_now(runner, integration)
    assert again is not None and again.status is SyncRunStatus.SUCCEEDED
    closed = await reader.accounts(principal, AccountFilter(status=AccountStatus.CLOSED), 500, None)
    assert victim in {a.account_id for _, a in closed.items}


async def test_a_run_cancelled_mid_way_leaves_the_previous_snapshot(
    store: Store, small_sim: RunningSimulator
) -> None:
    integration = await _org_with(store)
    bus = InMemoryEventBus()
    runner = make_runner(store, static_connectors(small_sim), bus=bus)
    first = await sync_now(runner, integration)
    assert first is not None and first.status is SyncRunStatus.SUCCEEDED

    small_sim.sim.faults.configure(latency_ms=30)
    events = bus.subscribe(topic_for(integration.organization_id, SYNC_CHANNEL))
    waiter = asyncio.ensure_future(anext(events))
    task = asyncio.create_task(sync_now(runner, integration))
    while True:  # wait until the second run is writing members
        event = await asyncio.wait_for(waiter, 10)
        waiter = asyncio.ensure_future(anext(events))
        if (
            event["run"]["progress"]["phase"] == "members"
            and event["run"]["progress"]["items_fetched"]
        ):
            break
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    waiter.cancel()

    runs, _ = await store.sync_runs.list_by_integration(integration_id=integration.id, limit=5)
    killed = runs[0]
    assert killed.status is SyncRunStatus.FAILED and "stopped" in (killed.error or "")
    current = await store.integrations.get_by_id(integration_id=integration.id)
    assert current is not None and current.current_snapshot_id == first.snapshot_id
    assert await store.snapshot_data.counts(first.snapshot_id) == first.counts
    assert await store.sync_leases.get(integration_id=integration.id) is None  # released

    small_sim.sim.faults.clear()
    again = await sync_now(runner, integration)
    assert again is not None and again.status is SyncRunStatus.SUCCEEDED
    assert again.counts == first.counts


@pytest.mark.parametrize("which", ["confluence", "admin"])
async def test_refused_credential_fails_cleanly_and_needs_reauth(
    store: Store, small_sim: RunningSimulator, which: str
) -> None:
    integration = await _org_with(store)
    creds = small_sim.sim.credentials
    good = static_connectors(small_sim)
    first = await sync_now(make_runner(store, good), integration)
    assert first is not None and first.status is SyncRunStatus.SUCCEEDED

    if which == "confluence":
        connectors = static_connectors(small_sim, api_token="wrong-token")
    else:
        from dataclasses import replace

        connectors = replace(good, admin_api_key=creds.admin_api_key + "x")
    bus = InMemoryEventBus()
    events = bus.subscribe(topic_for(integration.organization_id, "integrations"))
    waiter = asyncio.ensure_future(anext(events))
    run = await sync_now(make_runner(store, connectors, bus=bus), integration)
    assert run is not None and run.status is SyncRunStatus.FAILED
    assert await asyncio.wait_for(waiter, 2) == {"integration_id": integration.id}

    current = await store.integrations.get_by_id(integration_id=integration.id)
    assert current is not None and current.status is IntegrationStatus.NEEDS_REAUTH
    message = current.status_message or ""
    if which == "confluence":
        assert run.error_endpoint == paths.GROUPS
        assert "reconnect Confluence" in message
    else:
        assert run.error_endpoint == paths.ADMIN_DIRECTORY_USERS_SEARCH
        assert "admin" in message.lower()
    assert creds.admin_token.token not in message and creds.admin_api_key not in message
    assert current.current_snapshot_id == first.snapshot_id
    # A NEEDS_REAUTH integration is not synced again until it is reconnected.
    assert await sync_now(make_runner(store, good), integration) is None


async def test_faults_on_a_real_database_too(wire_url: str) -> None:
    """The 2,000-user fault run is mock-only for speed; a small one proves the wire path."""
    sim = Simulator(generate_site(users=60, groups=6, pages=20, seed=4))
    store = open_store("wire", wire_url)
    await store.ensure_indexes()
    try:
        with start_simulator(sim) as running:
            sim.faults.configure(rate_429=0.05, rate_503=0.05, rate_drop=0.05)
            runner = make_runner(store, static_connectors(running, policy=fast_policy(8)))
            run = await sync_now(runner, await _org_with(store))
            assert run is not None and run.status is SyncRunStatus.SUCCEEDED
            assert run.progress.retries == sim.counters.faults() > 0
    finally:
        await store.drop()
        store.close()


async def test_exhausted_quota_pauses_the_run_until_it_resets(small_sim: RunningSimulator) -> None:
    store = open_store("mock", None)
    await store.ensure_indexes()
    integration = await _org_with(store)
    runner = make_runner(store, static_connectors(small_sim, policy=RetryPolicy()))  # real sleep
    small_sim.sim.faults.exhaust_quota(seconds=1.0)
    started = asyncio.get_running_loop().time()
    run = await sync_now(runner, integration)
    assert run is not None and run.status is SyncRunStatus.SUCCEEDED, run.error
    assert asyncio.get_running_loop().time() - started >= 0.9  # waited for the reset
    assert run.progress.rate_limit_waits >= 1
    assert small_sim.sim.counters.faults("quota") == run.progress.rate_limit_waits
