"""SyncService: queueing, the first sync, and progress seen from another process."""

from __future__ import annotations

import asyncio

from services.events import InMemoryEventBus
from services.models import Principal, Role
from services.sync.models import SyncRunStatus, SyncTrigger
from services.sync.service import SyncService
from simulator import RunningSimulator
from testkit.conditions import until
from testkit.live import open_store
from testkit.sync import connected_integration, make_queue, make_runner, sync_now
from tests.sync.support import static_connectors


async def test_initial_sync_is_queued_and_dispatched_once() -> None:
    store = open_store("mock", None)
    await store.ensure_indexes()
    dispatched: list[str] = []
    service = SyncService(
        InMemoryEventBus(),
        make_queue(store),
        sync_runs=store.sync_runs,
        integrations=store.integrations,
        dispatch=dispatched.append,
    )
    org = await store.organizations.create(name="Acme")
    integration = await connected_integration(store, org.id)
    await service.request_initial_sync(integration)
    active = await store.sync_runs.get_active(integration_id=integration.id)
    assert active is not None and active.status is SyncRunStatus.QUEUED
    assert active.trigger is SyncTrigger.INITIAL
    # A manual trigger meanwhile returns the queued run instead of a second one.
    run = await service.trigger(Principal(org.id, Role.ADMIN, "k"), integration.id)
    assert run.id == active.id
    assert set(dispatched) == {integration.id}  # a kick is idempotent


async def test_progress_of_a_run_in_another_process_is_seen_by_polling(
    small_sim: RunningSimulator,
) -> None:
    store = open_store("mock", None)
    await store.ensure_indexes()
    org = await store.organizations.create(name="Acme")
    integration = await connected_integration(store, org.id)
    worker_bus, api_bus = InMemoryEventBus(), InMemoryEventBus()  # two processes
    runner = make_runner(store, static_connectors(small_sim), bus=worker_bus)
    service = SyncService(
        api_bus,
        make_queue(store, bus=api_bus),
        sync_runs=store.sync_runs,
        integrations=store.integrations,
        poll_interval=0.05,
    )
    watch = service.watch(Principal(org.id, Role.VIEWER, "k"), integration.id)
    seen = []

    async def follow() -> None:
        async for run in watch:
            seen.append(run)
            if run.status is SyncRunStatus.SUCCEEDED:
                return

    follower = asyncio.create_task(follow())
    # The watcher is subscribed (and so polling) before the run starts.
    await until(lambda: api_bus.subscriber_count() == 1, what="the watcher to subscribe")
    done = await sync_now(runner, integration)
    await asyncio.wait_for(follower, 30)  # a bound for a broken test, not a wait
    await watch.aclose()
    assert done is not None and seen[-1].id == done.id
    assert seen[-1].counts == done.counts
    assert api_bus.subscriber_count() == 0  # the subscription cleaned up
