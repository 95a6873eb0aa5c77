"""Store-backed helpers: a current snapshot of given accounts, services wired like the app."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from services.checks.access.data import ACCESS, IDENTITIES, PEOPLE, REVIEWS
from services.checks.access.source import AccessDataSource
from services.checks.engine import CheckEngine
from services.checks.registry import CHECKS
from services.checks.service import CheckService
from services.checks.triggers import Reevaluator
from services.events import InMemoryEventBus
from services.identity.accounts import AccountService
from services.identity.directory import Directory
from services.identity.service import IdentityService
from services.integrations.models import (
    AuthMethod,
    ConfluenceSite,
    Integration,
    IntegrationStatus,
    Purpose,
)
from services.models import Principal, Role
from services.people.service import PeopleService
from services.reviews.service import AccessReviewService
from services.reviews.systems import CriticalSystemService
from services.store import Store
from services.store.snapshot_data import SnapshotScope
from services.sync.models import SnapshotAccount
from services.sync.reads import SnapshotReader


def principal(org: str, role: Role = Role.ADMIN) -> Principal:
    return Principal(organization_id=org, role=role, api_key_id=f"key_{role.value.lower()}")


async def connected(store: Store, org: str, *, admin_key: bool = True) -> Integration:
    return await store.integrations.create(
        organization_id=org,
        purpose=Purpose.ACCESS_REVIEW,
        auth_method=AuthMethod.API_TOKEN,
        status=IntegrationStatus.CONNECTED,
        sync_interval_minutes=360,
        site=ConfluenceSite(url="http://127.0.0.1:1/site/acme"),
        has_admin_key=admin_key,
    )


async def seed_snapshot(
    store: Store,
    integration: Integration,
    accounts: Sequence[SnapshotAccount],
    snapshot_id: str,
    *,
    at: datetime | None = None,
) -> Integration:
    """Write ``accounts`` as snapshot ``snapshot_id`` and make it current."""
    scope = SnapshotScope(snapshot_id, integration.id, integration.organization_id)
    await store.snapshot_data.insert_accounts(scope, accounts)
    updated = await store.integrations.update(
        integration_id=integration.id,
        current_snapshot_id=snapshot_id,
        current_snapshot_at=at or datetime.now(UTC),
    )
    assert updated is not None
    return updated


@dataclass
class Parts:
    """The issue-6 services over one store, wired as ``api.access_setup`` wires them."""

    store: Store
    bus: InMemoryEventBus
    directory: Directory
    people: PeopleService
    identities: IdentityService
    accounts: AccountService
    systems: CriticalSystemService
    reviews: AccessReviewService
    engine: CheckEngine
    reevaluator: Reevaluator
    checks: CheckService


CREATED: list[Parts] = []  # settled after each test (tests/access/conftest.py)


def make_parts(store: Store, *, grace: timedelta = timedelta(hours=24)) -> Parts:
    bus = InMemoryEventBus()
    reader = SnapshotReader(store)
    directory = Directory(store, reader, max_age=timedelta(minutes=15))
    engine = CheckEngine(
        store,
        bus,
        checks=CHECKS,
        sources={ACCESS: AccessDataSource(store, directory, grace_period=grace)},
    )
    reevaluator = Reevaluator(engine)
    identities = IdentityService(store, directory, on_change=reevaluator.scoped(IDENTITIES))

    async def people_changed(org: str, person_ids: frozenset[str]) -> None:
        resolved = await identities.resolve(org, person_ids=person_ids)
        reevaluator.request(org, (PEOPLE, IDENTITIES) if resolved else (PEOPLE,))

    parts = Parts(
        store=store,
        bus=bus,
        directory=directory,
        people=PeopleService(store, directory, on_people_change=people_changed),
        identities=identities,
        accounts=AccountService(reader, directory),
        systems=CriticalSystemService(store, on_change=reevaluator.changed),
        reviews=AccessReviewService(store, directory, on_change=reevaluator.scoped(REVIEWS)),
        engine=engine,
        reevaluator=reevaluator,
        checks=CheckService(store, bus, engine),
    )
    CREATED.append(parts)
    return parts
