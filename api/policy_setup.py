"""Wiring of issue 7 for the composition root: evidence, exceptions, policy documents and
the policy checks' data source, and how they reach the check engine and the sync runner."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from api.settings import Settings
from api.sync_setup import SyncParts
from services.api_keys import ApiKeyService
from services.check_exceptions.service import ExceptionService, FailingItems
from services.checks.base import DataSource
from services.checks.policy.data import POLICY, PolicyDataSource
from services.checks.registry import CHECKS
from services.checks.triggers import Reevaluator
from services.events import EventBus, topic_for
from services.evidence.chain import evidence_key_from_settings
from services.evidence.recorder import EvidenceRecorder
from services.evidence.service import EvidencedSnapshots, EvidenceService
from services.policies.service import POLICIES_CHANNEL, PolicyService
from services.policies.state import PolicyStateLoader
from services.store import Store
from services.sync.reads import SnapshotReader

log = logging.getLogger(__name__)

CHECK_IDS = frozenset(c.id for c in CHECKS)


def check_ids() -> frozenset[str]:
    """The registered checks' ids (evidence and exceptions refuse others)."""
    return CHECK_IDS


@dataclass
class ReevaluationTrigger:
    """Change callbacks for the services built before the engine's re-evaluator exists."""

    reevaluator: Reevaluator | None = None
    bus: EventBus | None = None

    async def policies_changed(self, organization_id: str) -> None:
        """Policy documents or frameworks changed: re-evaluate, tell ``policiesChanged``."""
        if self.reevaluator is not None:
            self.reevaluator.request(organization_id, (POLICY,))
        if self.bus is not None:
            await self.bus.publish(topic_for(organization_id, POLICIES_CHANNEL), {})

    async def anything_changed(self, organization_id: str) -> None:
        """Exceptions changed (they may concern any check): re-evaluate everything."""
        if self.reevaluator is not None:
            self.reevaluator.request(organization_id)


@dataclass
class PolicyParts:
    """What the container holds of evidence, exceptions and policies."""

    evidence: EvidenceService
    recorder: EvidenceRecorder
    protected: EvidencedSnapshots
    exceptions: ExceptionService
    policies: PolicyService
    source: PolicyDataSource
    trigger: ReevaluationTrigger = field(default_factory=ReevaluationTrigger)

    @property
    def sources(self) -> Mapping[str, DataSource[Any]]:
        """The engine's data sources this issue adds."""
        return {POLICY: self.source}

    def attach(
        self,
        reevaluator: Reevaluator,
        sync: SyncParts,
        access: ApiKeyService,
        bus: EventBus | None = None,
    ) -> None:
        """Connect change callbacks to the engine; auto-map before the engine's sync hook."""
        self.trigger.reevaluator = reevaluator
        self.trigger.bus = bus
        sync.runner.listeners = (self.policies.after_sync, *sync.runner.listeners)
        access.frameworks_changed = self.trigger.policies_changed


def build_policies(settings: Settings, store: Store) -> PolicyParts:
    """Build evidence (with its HMAC key), exceptions and the policy services."""
    key, warning = evidence_key_from_settings(
        _secret(settings.evidence_hmac_key), development=settings.development
    )
    if warning:
        log.warning(warning)
    trigger = ReevaluationTrigger()

    async def anchors(organization_id: str) -> list[tuple[str, str]]:
        results = await store.check_results.list_latest(organization_id=organization_id)
        return [(r.check_id, r.evidence_id) for r in results if r.evidence_id]

    evidence = EvidenceService(store.evidence, key, check_ids=check_ids, anchors=anchors)
    loader = PolicyStateLoader(
        SnapshotReader(integrations=store.integrations, snapshot_queries=store.snapshot_queries),
        organizations=store.organizations,
        policies=store.policies,
        snapshot_queries=store.snapshot_queries,
    )
    return PolicyParts(
        evidence=evidence,
        recorder=EvidenceRecorder(
            evidence, integrations=store.integrations, check_exceptions=store.check_exceptions
        ),
        protected=EvidencedSnapshots(integrations=store.integrations, evidence=store.evidence),
        exceptions=ExceptionService(
            store.check_exceptions,
            check_ids=check_ids,
            failing=_failing_items(store),
            changed=trigger.anything_changed,
        ),
        policies=PolicyService(loader, policies=store.policies, changed=trigger.policies_changed),
        source=PolicyDataSource(loader),
        trigger=trigger,
    )


def _failing_items(store: Store) -> FailingItems:
    async def failing(organization_id: str, check_id: str) -> set[str]:
        latest = await store.check_results.get_latest(
            organization_id=organization_id, check_id=check_id
        )
        return {i.resource_id for i in latest.failing_items} if latest else set()

    return failing


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None
