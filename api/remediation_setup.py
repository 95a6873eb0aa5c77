"""Wiring of issue 16 (remediation) for the composition root."""

from __future__ import annotations

from services.events import EventBus
from services.evidence import EvidenceService
from services.integrations.clients import ClientFactory
from services.integrations.models import Integration
from services.remediation.executor import RemediationExecutor
from services.remediation.planner import RemediationPlanner
from services.remediation.service import RemediationService
from services.store import Store
from services.sync.models import SyncTrigger
from services.sync.reads import SnapshotReader
from services.sync.service import SyncService


def build_remediation(
    store: Store,
    bus: EventBus,
    reader: SnapshotReader,
    clients: ClientFactory,
    evidence: EvidenceService,
    sync: SyncService,
) -> RemediationService:
    """Planner, executor and service; verified changes trigger a sync (ADR 010)."""

    async def resync(integration: Integration) -> None:
        # The checks read the current snapshot: a fresh sync shows them what Atlassian
        # now says, and its listeners re-evaluate the checks (ADR 010).
        await sync.enqueue(integration, SyncTrigger.MANUAL)

    def executor(service: RemediationService) -> RemediationExecutor:
        return RemediationExecutor(
            store,
            clients,
            record_evidence=evidence.record,
            publish=service.publish,
            on_verified=resync,
        )

    return RemediationService(store, bus, RemediationPlanner(store, reader), executor)
