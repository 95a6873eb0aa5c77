"""A connected integration in the store and a sync runner with test-sized tunables."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from services.events import InMemoryEventBus
from services.integrations.models import (
    AuthMethod,
    ConfluenceSite,
    Integration,
    IntegrationStatus,
    Purpose,
)
from services.store import Store
from services.sync.connector import ConnectorFactory
from services.sync.retention import ProtectedSnapshots, Retention
from services.sync.runner import RunnerOptions, SnapshotListener, SyncRunner


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


def make_runner(
    store: Store,
    connectors: ConnectorFactory,
    *,
    bus: InMemoryEventBus | None = None,
    owner: str = "test-worker",
    lease_seconds: float = 30,
    keep: int = 30,
    protected: ProtectedSnapshots | None = None,
    listeners: Sequence[SnapshotListener] = (),
    concurrency: int = 8,
) -> SyncRunner:
    """A runner with test-sized tunables."""
    options = RunnerOptions(
        owner=owner, lease_ttl=timedelta(seconds=lease_seconds), concurrency=concurrency
    )
    retention = Retention(store.sync_runs, store.snapshot_data, protected, keep=keep)
    return SyncRunner(
        integrations=store.integrations,
        sync_runs=store.sync_runs,
        sync_leases=store.sync_leases,
        snapshot_data=store.snapshot_data,
        bus=bus or InMemoryEventBus(),
        connectors=connectors,
        retention=retention,
        options=options,
        listeners=listeners,
    )
