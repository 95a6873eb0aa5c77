"""What happens after something changes: ordered steps, all in one place.

Services report facts ("people of organization X changed"); the reactions below decide what
follows, as ordered steps that call services and the bus. Control never leaves the service
layer: nothing here imports the API or the resolvers.

At a glance (each line's steps run in this order):

- after a sync commits (``Reactions.after_sync_committed``: the sync runner's on_committed; one
  failing does not stop the next)
  1. a POLICY sync: auto-map policy documents, then as "after policies change"
  2. announce the integration's new ``lastSyncAt`` (``integrationStatusChanged``)
  3. an ACCESS_REVIEW sync: resolve identities, re-evaluate the access checks;
     any other sync: re-evaluate every check
- after people change: resolve the identities of those people's accounts; re-evaluate the
  access checks that read people (and those that read identities, if any changed);
  ``peopleChanged``
- after an identity is decided by hand: re-evaluate the access checks that read identities
- after critical systems change: re-evaluate the access checks
- after a review changes: re-evaluate the access checks that read reviews;
  ``accessReviewChanged``
- after the active frameworks change: as after policies change
- after policies change: re-evaluate the policy checks; ``policiesChanged``
- after check exceptions change: re-evaluate every check
- after an integration changes (connected, disconnected, needs re-authorisation, settings;
  announced by ``IntegrationChanges``): re-evaluate every check
- after an integration connects: queue its first sync (SPEC §2.1.4)
- after the admin key changes: sync now, or right after the running sync
- after a check's result changes (``AlertReactions``): an alert when its status turned
  FAILING or ERROR, or back to PASSING
- after a sync run fails: an alert
- after a remediation action fails: an alert

Four classes, because each is built at a different point of the composition root
(``api/container.py``), in dependency order: ``AlertReactions`` needs only the alerts'
notifier and is handed to the check engine, the sync runner and the remediation executor;
``CheckReactions`` needs only the re-evaluator and the bus; ``Reactions`` also calls the
identity, policy and integration services and is handed to the sync runner;
``IntegrationReactions`` calls the sync service, which is built after the runner.

Naming: a service reports a fact through a constructor parameter ``on_<fact>`` (past tense:
``on_people_changed``), wired to the reaction of the same fact, ``after_<fact>``, below.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass

from services.alerts.changes import check_alert, remediation_alert, sync_alert
from services.alerts.outbox import Notifier
from services.checks.access.data import ACCESS, IDENTITIES, PEOPLE, REVIEWS
from services.checks.base import Evaluation
from services.checks.policy.data import POLICY
from services.checks.triggers import Reevaluator
from services.clock import Clock, utcnow_ms
from services.events import EventBus, topic_for
from services.identity.service import IdentityService
from services.integrations.changes import IntegrationChanges
from services.integrations.models import Integration, Purpose
from services.people.service import PEOPLE_CHANNEL
from services.policies.service import POLICIES_CHANNEL, PolicyService
from services.remediation.models import RemediationAction
from services.reviews.service import REVIEWS_CHANNEL
from services.sync.models import SyncRun
from services.sync.runner import OnCommitted
from services.sync.service import SyncService


class AlertReactions:
    """After a change worth telling: record its alert (the worker coalesces and sends it)."""

    def __init__(self, notifier: Notifier, clock: Clock = utcnow_ms) -> None:
        self._notifier = notifier
        self._clock = clock

    async def after_result_changed(self, evaluation: Evaluation) -> None:
        """A check's recorded result changed: an alert if its status turned FAILING or ERROR,
        or back to PASSING (``services/alerts/changes.py``)."""
        await self._notifier.notify(check_alert(evaluation))

    async def after_sync_failed(self, integration: Integration, run: SyncRun) -> None:
        """A sync run FAILED."""
        await self._notifier.notify(sync_alert(integration, run, self._clock()))

    async def after_action_failed(self, action: RemediationAction) -> None:
        """A remediation action FAILED."""
        await self._notifier.notify(remediation_alert(action, self._clock()))


class CheckReactions:
    """After data the checks read changes: which checks re-evaluate, who is told."""

    def __init__(self, reevaluator: Reevaluator, bus: EventBus) -> None:
        self._reevaluator = reevaluator
        self._bus = bus

    async def after_identity_decided(self, organization_id: str) -> None:
        """An account was linked, marked not staff, or its decision cleared."""
        self._reevaluator.request(organization_id, (IDENTITIES,))

    async def after_systems_changed(self, organization_id: str) -> None:
        """A critical system was added or its settings changed."""
        self._reevaluator.request(organization_id, (ACCESS,))

    async def after_review_changed(self, organization_id: str, review_id: str) -> None:
        """A review started, an entry was decided, or a review completed: re-evaluate the
        checks that read reviews, tell ``accessReviewChanged`` subscribers which one."""
        self._reevaluator.request(organization_id, (REVIEWS,))
        await self._bus.publish(
            topic_for(organization_id, REVIEWS_CHANNEL), {"review_id": review_id}
        )

    async def after_frameworks_changed(self, organization_id: str) -> None:
        """The organization's active frameworks changed: they decide the required policies."""
        await self.after_policies_changed(organization_id)

    async def after_policies_changed(self, organization_id: str) -> None:
        """Policy documents changed: re-evaluate the policy checks, tell ``policiesChanged``."""
        self._reevaluator.request(organization_id, (POLICY,))
        await self._bus.publish(topic_for(organization_id, POLICIES_CHANNEL), {})

    async def after_exceptions_changed(self, organization_id: str) -> None:
        """Check exceptions changed (they may concern any check): re-evaluate everything."""
        self._reevaluator.request(organization_id)

    async def after_integration_changed(self, integration: Integration) -> None:
        """An integration connected, disconnected or needs re-authorisation."""
        self._reevaluator.request(integration.organization_id)


@dataclass(eq=False, repr=False)
class Reactions:
    """After a sync commits and after people change (steps calling other services)."""

    checks: CheckReactions
    reevaluator: Reevaluator
    bus: EventBus
    _: KW_ONLY
    identities: IdentityService
    policies: PolicyService
    integrations: IntegrationChanges

    def after_sync_committed(self) -> tuple[OnCommitted, ...]:
        """The sync runner's on_committed reactions, in the order they run after a commit."""
        return (self.map_policies, self.announce_last_sync, self.resolve_and_reevaluate)

    async def map_policies(self, integration: Integration, run: SyncRun) -> None:
        """1. After a POLICY sync: auto-map documents, then react as to a policy change."""
        if integration.purpose is not Purpose.POLICY:
            return
        await self.policies.auto_map(integration.organization_id)
        await self.checks.after_policies_changed(integration.organization_id)

    async def announce_last_sync(self, integration: Integration, run: SyncRun) -> None:
        """2. Tell ``integrationStatusChanged`` subscribers that ``lastSyncAt`` moved."""
        await self.integrations.announce(integration)

    async def resolve_and_reevaluate(self, integration: Integration, run: SyncRun) -> None:
        """3. A new current snapshot: resolve identities (access reviews), re-evaluate."""
        organization_id = integration.organization_id
        if integration.purpose is Purpose.ACCESS_REVIEW:
            await self.identities.resolve(organization_id)
            self.reevaluator.request(organization_id, (ACCESS,))
        else:
            self.reevaluator.request(organization_id)

    async def after_people_changed(self, organization_id: str, person_ids: frozenset[str]) -> None:
        """People decide identities (email match) of their accounts only; the checks that
        read people, and those that read identities if any changed, are re-evaluated."""
        resolved = await self.identities.resolve(organization_id, person_ids=person_ids)
        self.reevaluator.request(organization_id, (PEOPLE, IDENTITIES) if resolved else (PEOPLE,))
        await self.bus.publish(topic_for(organization_id, PEOPLE_CHANNEL), {})


class IntegrationReactions:
    """After an integration connects or what its syncs collect changes: sync it."""

    def __init__(self, sync: SyncService) -> None:
        self._sync = sync

    async def after_connected(self, integration: Integration) -> None:
        """A freshly CONNECTED integration: queue its first sync (SPEC §2.1.4)."""
        await self._sync.request_initial_sync(integration)

    async def after_collection_changed(self, integration: Integration) -> None:
        """The admin key brings MFA and last activity: sync now, or after the running run."""
        await self._sync.collection_changed(integration)
