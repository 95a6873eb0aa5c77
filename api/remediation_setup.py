"""Wiring of issue 16 (remediation) for the composition root."""

from __future__ import annotations

from services.atlassian.directory_admin import DirectoryAdminClient
from services.events import EventBus
from services.evidence.service import EvidenceService
from services.integrations.clients import ClientFactory
from services.integrations.models import Integration
from services.integrations.vault import ADMIN_API_KEY, CredentialVault
from services.remediation.executor import WRITE_POLICY, RemediationExecutor
from services.remediation.planner import RemediationPlanner
from services.remediation.resync import Resync
from services.remediation.service import RemediationService
from services.store import Store
from services.sync.models import SyncRun
from services.sync.reads import SnapshotReader
from services.sync.service import SyncService


def build_remediation(
    store: Store,
    bus: EventBus,
    reader: SnapshotReader,
    clients: ClientFactory,
    evidence: EvidenceService,
    sync: SyncService,
    vault: CredentialVault,
) -> RemediationService:
    """Planner, executor and service; verified changes trigger a sync (ADR 010)."""

    async def get_run(run_id: str) -> SyncRun | None:
        return await store.sync_runs.get(run_id=run_id)

    resync = Resync(sync.enqueue, get_run)

    async def directory_admin(integration: Integration) -> DirectoryAdminClient | None:
        """The Admin API client for suspension, when the integration has an admin key."""
        if not integration.has_admin_key:
            return None
        secret = await vault.load(integration.organization_id, integration.id, ADMIN_API_KEY)
        if secret is None:
            return None
        return DirectoryAdminClient(
            clients.http, secret.values["api_key"], WRITE_POLICY, api_base=clients.config.api_url
        )

    def executor(service: RemediationService) -> RemediationExecutor:
        return RemediationExecutor(
            clients,
            integrations=store.integrations,
            remediations=store.remediations,
            record_evidence=evidence.record,
            publish=service.publish,
            on_verified=resync,
            directory_admin=directory_admin,
        )

    planner = RemediationPlanner(
        reader,
        snapshot_queries=store.snapshot_queries,
        remediations=store.remediations,
        check_results=store.check_results,
        critical_systems=store.critical_systems,
        access_reviews=store.access_reviews,
    )
    service = RemediationService(bus, planner, executor, remediations=store.remediations)
    service.on_stop(resync.stop)
    return service
