"""A connected integration (in the store, or built), the run queue, a sync runner with test-sized
tunables, and ``sync_now`` (what ``vigil sync`` does)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from api.container import build_queue, build_runner
from services.events import EventBus, InMemoryEventBus
from services.integrations.changes import IntegrationChanges
from services.integrations.models import (
    AuthMethod,
    ConfluenceSite,
    Integration,
    IntegrationStatus,
    Purpose,
)
from services.store import Store
from services.sync.connector import ConnectorFactory
from services.sync.models import SyncRun, SyncTrigger
from services.sync.queue import RunQueue
from services.sync.retention import ProtectedSnapshots
from services.sync.runner import (
    OnCommitted,
    OnSyncFailed,
    RunnerOptions,
    SyncRunner,
    ignore_sync_failure,
)


def integration_at(at: datetime, **fields: Any) -> Integration:
    """A CONNECTED API-token ACCESS_REVIEW integration (``int_1`` of ``org_1``, not stored)
    created and last updated ``at``; ``fields`` replace any of that."""
    base = Integration(
        id="int_1",
        organization_id="org_1",
        purpose=Purpose.ACCESS_REVIEW,
        auth_method=AuthMethod.API_TOKEN,
        status=IntegrationStatus.CONNECTED,
        created_at=at,
        updated_at=at,
    )
    return replace(base, **fields)


async def connected_integration(
    store: Store,
    organization_id: str,
    purpose: Purpose = Purpose.ACCESS_REVIEW,
    *,
    site_url: str = "http://127.0.0.1:1/site/acme",
    **fields: Any,
) -> Integration:
    """A CONNECTED API-token integration, as the connect flow leaves it."""
    return await store.integrations.create(
        organization_id=organization_id,
        purpose=purpose,
        auth_method=AuthMethod.API_TOKEN,
        status=IntegrationStatus.CONNECTED,
        sync_interval_minutes=360,
        site=ConfluenceSite(url=site_url),
        **fields,
    )


def make_queue(
    store: Store, *, bus: EventBus | None = None, options: RunnerOptions | None = None
) -> RunQueue:
    """The run queue over ``store``'s repositories."""
    return build_queue(
        store, bus or InMemoryEventBus(), options or RunnerOptions(owner="test-worker")
    )


def make_runner(
    store: Store,
    connectors: ConnectorFactory,
    *,
    bus: InMemoryEventBus | None = None,
    owner: str = "test-worker",
    lease_seconds: float = 30,
    keep: int = 30,
    protected: ProtectedSnapshots | None = None,
    on_committed: Sequence[OnCommitted] = (),
    on_sync_failed: OnSyncFailed = ignore_sync_failure,
    concurrency: int = 8,
    role_reads: int = 200,
    max_layer: int = 2000,
) -> SyncRunner:
    """A runner (and its queue) with test-sized tunables, wired as the container wires it."""
    bus = bus or InMemoryEventBus()
    options = RunnerOptions(
        owner=owner,
        lease_ttl=timedelta(seconds=lease_seconds),
        concurrency=concurrency,
        role_reads=role_reads,
        max_layer=max_layer,
    )
    return build_runner(
        store,
        bus,
        connectors,
        options,
        keep=keep,
        protected=protected,
        on_reauth_needed=IntegrationChanges(bus, integrations=store.integrations).mark_needs_reauth,
        on_committed=on_committed,
        on_sync_failed=on_sync_failed,
    )


async def sync_now(
    runner: SyncRunner, integration: Integration, trigger: SyncTrigger = SyncTrigger.SCHEDULED
) -> SyncRun | None:
    """What ``vigil sync`` does: submit a run (unless one is active), then run it here."""
    await runner.queue.submit(integration, trigger)
    return await runner.execute(integration.id)
