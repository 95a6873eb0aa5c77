"""Wiring of issue 6 for the composition root: people, identities, critical systems,
access reviews, the check engine and when it runs (after syncs, changes, on a timer)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from api.settings import Settings
from api.sync_setup import SyncParts
from services.checks.access.data import ACCESS, IDENTITIES, PEOPLE, REVIEWS
from services.checks.access.source import AccessDataSource
from services.checks.base import DataSource, ExceptionFilter, OnChanged
from services.checks.engine import CheckEngine, no_evidence
from services.checks.registry import CHECKS
from services.checks.service import CheckService
from services.checks.triggers import Reevaluator
from services.events import EventBus, topic_for
from services.identity.accounts import AccountService
from services.identity.directory import Directory
from services.identity.service import IdentityService
from services.integrations.models import Integration, Purpose
from services.people.service import PEOPLE_CHANNEL, PeopleService
from services.reviews.service import REVIEWS_CHANNEL, AccessReviewService
from services.reviews.systems import CriticalSystemService
from services.store import Store
from services.sync.models import SyncRun


@dataclass
class AccessParts:
    """What the container holds of people, identities, reviews and checks."""

    directory: Directory
    people: PeopleService
    identities: IdentityService
    accounts: AccountService
    systems: CriticalSystemService
    reviews: AccessReviewService
    engine: CheckEngine
    reevaluator: Reevaluator
    checks: CheckService

    async def snapshot_committed(self, integration: Integration, run: SyncRun) -> None:
        """The sync runner's post-commit hook: a new current snapshot."""
        org = integration.organization_id
        if integration.purpose is Purpose.ACCESS_REVIEW:
            await self.identities.resolve(org)
            self.reevaluator.request(org, (ACCESS,))
        else:
            self.reevaluator.request(org)

    async def integration_changed(self, integration: Integration) -> None:
        """An integration connected, disconnected or needs re-authorisation."""
        self.reevaluator.request(integration.organization_id)


def review_publisher(bus: EventBus) -> Callable[[str, str], Awaitable[None]]:
    """Publish a review's change for ``accessReviewChanged`` subscribers."""

    async def publish(organization_id: str, review_id: str) -> None:
        await bus.publish(topic_for(organization_id, REVIEWS_CHANNEL), {"review_id": review_id})

    return publish


def build_access(
    settings: Settings,
    store: Store,
    bus: EventBus,
    sync: SyncParts,
    *,
    sources: Mapping[str, DataSource[Any]] | None = None,
    on_changed: OnChanged = no_evidence,
    exceptions: ExceptionFilter | None = None,
) -> AccessParts:
    """Build the services and hook re-evaluation into the sync runner (``listeners``)."""
    directory = Directory(
        store, sync.reader, max_age=timedelta(minutes=settings.check_interval_minutes)
    )
    grace = timedelta(hours=settings.offboarding_grace_hours)
    engine = CheckEngine(
        store,
        bus,
        checks=CHECKS,
        sources={ACCESS: AccessDataSource(store, directory, grace_period=grace), **(sources or {})},
        on_changed=on_changed,
        exceptions=exceptions,
    )
    reevaluator = Reevaluator(engine)
    changed = reevaluator.changed
    identities = IdentityService(store, directory, on_change=reevaluator.scoped(IDENTITIES))

    async def people_changed(organization_id: str, person_ids: frozenset[str]) -> None:
        # People decide identities (email match) of their accounts only; the checks that
        # read people, and those that read identities if any changed, are re-evaluated.
        resolved = await identities.resolve(organization_id, person_ids=person_ids)
        reevaluator.request(organization_id, (PEOPLE, IDENTITIES) if resolved else (PEOPLE,))
        await bus.publish(topic_for(organization_id, PEOPLE_CHANNEL), {})

    parts = AccessParts(
        directory=directory,
        people=PeopleService(store, directory, on_people_change=people_changed),
        identities=identities,
        accounts=AccountService(sync.reader, directory),
        systems=CriticalSystemService(store, on_change=changed),
        reviews=AccessReviewService(
            store,
            directory,
            on_change=reevaluator.scoped(REVIEWS),
            on_review_change=review_publisher(bus),
        ),
        engine=engine,
        reevaluator=reevaluator,
        checks=CheckService(store, bus, engine),
    )
    sync.runner.listeners = (*sync.runner.listeners, parts.snapshot_committed)
    return parts
