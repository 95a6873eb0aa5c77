"""Wiring of the sync pipeline for the composition root (runner, scheduler, services)."""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from datetime import timedelta

from api.heartbeat import Heartbeat
from api.metrics import Metrics
from api.settings import Settings
from services.events import EventBus, topic_for
from services.integrations.models import Integration
from services.scheduler import Scheduler
from services.store import Store
from services.sync.connector import ConnectorFactory
from services.sync.models import SyncRun
from services.sync.reads import SnapshotReader
from services.sync.retention import ProtectedSnapshots, Retention
from services.sync.runner import ReauthHandler, RunnerOptions, SnapshotListener, SyncRunner
from services.sync.service import SyncService


@dataclass
class SyncParts:
    """What the container holds of the sync pipeline."""

    runner: SyncRunner
    scheduler: Scheduler
    service: SyncService
    reader: SnapshotReader


def worker_identity() -> str:
    """A lease owner name: host, process and a random suffix (unique per process start)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def announce_new_snapshot(bus: EventBus) -> SnapshotListener:
    """Tell ``integrationStatusChanged`` subscribers that ``lastSyncAt`` moved."""

    async def announce(integration: Integration, run: SyncRun) -> None:
        topic = topic_for(integration.organization_id, "integrations")
        await bus.publish(topic, {"integration_id": integration.id})

    return announce


def build_sync(
    settings: Settings,
    store: Store,
    bus: EventBus,
    metrics: Metrics,
    connectors: ConnectorFactory,
    protected: ProtectedSnapshots | None = None,
    on_reauth: ReauthHandler | None = None,
) -> SyncParts:
    """Build the runner, its scheduler, and the services resolvers call."""
    options = RunnerOptions(
        owner=worker_identity(),
        lease_ttl=timedelta(seconds=settings.sync_lease_seconds),
        concurrency=settings.sync_concurrency,
    )
    retention = Retention(
        store.sync_runs, store.snapshot_data, protected, keep=settings.snapshot_retention
    )
    runner = SyncRunner(
        integrations=store.integrations,
        sync_runs=store.sync_runs,
        sync_leases=store.sync_leases,
        snapshot_data=store.snapshot_data,
        bus=bus,
        connectors=connectors,
        retention=retention,
        options=options,
        metrics=metrics,
        on_reauth=on_reauth,
    )
    runner.listeners = (announce_new_snapshot(bus), *runner.listeners)
    scheduler = Scheduler(
        runner,
        integrations=store.integrations,
        sync_runs=store.sync_runs,
        sync_leases=store.sync_leases,
        tick_seconds=settings.scheduler_tick_seconds,
        max_parallel=settings.sync_max_parallel,
        on_tick=Heartbeat(settings.worker_heartbeat_file).beat
        if settings.worker_heartbeat_file
        else None,
    )
    dispatch = scheduler.submit if settings.run_worker else None
    return SyncParts(
        runner=runner,
        scheduler=scheduler,
        service=SyncService(
            bus, sync_runs=store.sync_runs, integrations=store.integrations, dispatch=dispatch
        ),
        reader=SnapshotReader(
            integrations=store.integrations, snapshot_queries=store.snapshot_queries
        ),
    )
