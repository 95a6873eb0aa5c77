"""Follow-up runs at the service and store level (defect 5), on both stores: requests made
while a run is RUNNING coalesce into one follow-up; a QUEUED run needs none."""

from __future__ import annotations

from services.events import InMemoryEventBus
from services.models import Principal, Role
from services.store import Store
from services.sync.models import RunEnd, RunRequest, SyncProgress, SyncRunStatus, SyncTrigger
from services.sync.service import SyncService
from testkit.sync import connected_integration, make_queue


async def test_requests_during_a_run_coalesce_into_one_follow_up(store: Store) -> None:
    service = SyncService(
        InMemoryEventBus(),
        make_queue(store),
        sync_runs=store.sync_runs,
        integrations=store.integrations,
    )
    org = await store.organizations.create(name="Acme")
    integration = await connected_integration(store, org.id)
    admin = Principal(org.id, Role.ADMIN, "k")

    queued = await service.trigger(admin, integration.id)
    again = await service.trigger(admin, integration.id)
    assert again.id == queued.id and again.follow_up is None  # not started: sees any change

    running = await store.sync_runs.claim(run_id=queued.id, owner="w", fence=1)
    assert running is not None
    await service.request_initial_sync(integration)  # a re-connect during the run
    await service.collection_changed(integration)  # an admin key set during the run
    during = await service.trigger(admin, integration.id)
    assert during.id == queued.id and during.status is SyncRunStatus.RUNNING
    assert during.follow_up is not None

    finished = await store.sync_runs.finish(
        run_id=queued.id, fence=1, end=RunEnd(SyncRunStatus.SUCCEEDED, SyncProgress())
    )
    assert finished is not None and finished.follow_up is SyncTrigger.MANUAL
    _, total = await store.sync_runs.list_by_integration(integration_id=integration.id, limit=10)
    assert total == 1  # the follow-up is the runner's to queue, once (see test_follow_up e2e)


async def test_a_follow_up_is_asked_only_of_a_running_run(store: Store) -> None:
    org = await store.organizations.create(name="Acme")
    integration = await connected_integration(store, org.id)
    assert (
        await store.sync_runs.request_follow_up(
            integration_id=integration.id, trigger=SyncTrigger.MANUAL
        )
        is None
    )
    run = await store.sync_runs.create(
        RunRequest(org.id, integration.id, integration.purpose, SyncTrigger.SCHEDULED)
    )
    assert run is not None
    assert (
        await store.sync_runs.request_follow_up(
            integration_id=integration.id, trigger=SyncTrigger.MANUAL
        )
        is None
    )
