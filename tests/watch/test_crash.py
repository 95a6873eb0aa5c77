"""Issue 23, crash: a `vigil worker` killed (SIGKILL) after it read an event and while the
refresh it caused is running loses no event and applies none twice; the stream's duplicate
deliveries are harmless. Real worker processes on the wire server."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from services.integrations.models import Purpose
from services.models import Principal, Role
from services.sync.models import SyncRun, SyncRunKind, SyncRunStatus
from simulator import RunningSimulator
from testkit.conditions import until
from tests.conftest import served_site
from tests.sync.test_workers import _connect
from tests.sync.worker_processes import Workers, started_container, worker_settings

pytestmark = pytest.mark.wire
MEMBEROF = "GET /wiki/rest/api/user/memberof"  # the targeted run's first read


running = served_site(users=20, groups=3, pages=2, seed=29)


@pytest.fixture
async def env(wire_url: str, running: RunningSimulator, tmp_path: Path) -> AsyncIterator[Any]:
    running.sim.reset()
    settings = worker_settings(
        wire_url,
        "vigil_watch",
        running,
        VIGIL_CHANGE_WATCH_POLL_SECONDS="0.3",
        VIGIL_CHANGE_WATCH_COALESCE_SECONDS="0.1",
        VIGIL_CHANGE_WATCH_LEASE_SECONDS="2",
    )
    container = await started_container(settings)
    org, key = await container.services.organizations.create_organization("Acme")
    workers = Workers(settings, tmp_path)
    try:
        yield container, Principal(org.id, Role.ADMIN, key.key.id), workers.start
    finally:
        running.sim.faults.clear()
        running.sim.behaviour.event_duplicate_rate = 0.0
        workers.stop()
        await container.store.drop()
        await container.stop()


async def test_a_worker_killed_mid_refresh_loses_no_event_and_applies_none_twice(
    env: Any, running: RunningSimulator
) -> None:
    container, principal, start_worker = env
    store, sim = container.store, running.sim
    integration_id = await _connect(container, principal, running, Purpose.ACCESS_REVIEW)

    async def runs() -> list[SyncRun]:
        found, _ = await store.sync_runs.list_by_integration(
            integration_id=integration_id, limit=50
        )
        return found

    async def targeted(status: SyncRunStatus | None = None) -> list[SyncRun]:
        return [
            r for r in await runs() if r.kind is SyncRunKind.TARGETED and status in (None, r.status)
        ]

    async def watching() -> bool:
        state = await store.watch.get(integration_id=integration_id)
        return bool(state and state.watching and state.last_polled_at)

    victim = start_worker("victim")
    await _within_a_minute(
        lambda: _any(runs, lambda r: r.status is SyncRunStatus.SUCCEEDED), "the first sync"
    )
    await _within_a_minute(watching, "the watch to poll")
    listed = {a.account_id for _, a in sim.directory_accounts()}
    operators = set(sim.site.operators.values())
    truth = sim.confluence_access()
    account_id = next(a for a in sorted(listed - operators) if truth[a])

    sim.behaviour.event_duplicate_rate = 1.0  # every page is delivered twice
    sim.faults.configure(latency_ms=60_000, routes={MEMBEROF})  # the refresh hangs: kill it
    sim.actions.suspend(account_id)
    event_id = sim.events.events[-1].event_id
    await _within_a_minute(lambda: targeted(SyncRunStatus.RUNNING), "the refresh to start")
    mark = await store.watch.committed(integration_id=integration_id)
    assert mark is None or event_id not in mark.event_ids  # read, not committed
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    sim.faults.clear()

    start_worker("survivor")
    await _within_a_minute(
        lambda: targeted(SyncRunStatus.SUCCEEDED), "the refresh after the takeover"
    )
    # The run the victim was executing is completed by the survivor (its sync lease expired)
    # and commits the mark it carries; the survivor's watcher, which read the event again,
    # finds it among the committed mark's ids and asks for nothing more.
    state = await store.watch.get(integration_id=integration_id)
    assert state is not None and state.last_polled_at is not None
    accounts = {
        a.account_id: a
        async for a in store.snapshot_queries.iter_accounts(
            snapshot_id=(
                await store.integrations.get_by_id(integration_id=integration_id)
            ).current_snapshot_id  # type: ignore[union-attr]
        )
    }
    assert accounts[account_id].has_access is False
    # Applied once: the mark holds the event; more polls (every page delivered twice) start
    # no run.
    mark = await store.watch.committed(integration_id=integration_id)
    assert mark is not None and event_id in mark.event_ids
    polled = state.last_polled_at + timedelta(seconds=1)  # a few more polls (every 0.3 s)
    await _within_a_minute(lambda: _polled_after(store, integration_id, polled), "more polls")
    done = await targeted(SyncRunStatus.SUCCEEDED)
    assert len(done) == 1, [(r.id, r.status, r.created_at, r.finished_at) for r in await runs()]
    assert [r for r in await targeted() if r.status is not SyncRunStatus.FAILED] == done


async def _within_a_minute(check: Callable[[], Any], what: str) -> Any:
    """``until`` with the minute a worker process may take, looking every 0.1 s."""
    return await until(check, what=what, timeout=60, interval=0.1)


async def _any(runs: Callable[[], Any], match: Callable[[SyncRun], bool]) -> bool:
    return any(match(r) for r in await runs())


async def _polled_after(store: Any, integration_id: str, at: Any) -> bool:
    state = await store.watch.get(integration_id=integration_id)
    if state is None or state.last_polled_at is None:
        return False
    return bool(state.last_polled_at > at)
