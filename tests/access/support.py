"""Store-backed helpers: a current snapshot of given accounts, the app's services."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from api.container import Container
from api.settings import Settings
from services.crypto import generate_key
from services.events import InMemoryEventBus
from services.integrations.models import Integration, Purpose
from services.models import Principal, Role
from services.store import Store
from services.sync.models import (
    Phase,
    RunEnd,
    RunRequest,
    SnapshotAccount,
    SnapshotCounts,
    SnapshotScope,
    SyncProgress,
    SyncRunStatus,
    SyncTrigger,
)
from testkit.sync import connected_integration


def principal(org: str, role: Role = Role.ADMIN) -> Principal:
    return Principal(organization_id=org, role=role, api_key_id=f"key_{role.value.lower()}")


async def connected(store: Store, org: str, *, admin_key: bool = True) -> Integration:
    """A CONNECTED ACCESS_REVIEW integration, with an admin key unless ``admin_key`` is off."""
    return await connected_integration(store, org, has_admin_key=admin_key)


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
    await store.snapshot_data.record_counts(snapshot_id)  # as a run commits
    updated = await store.integrations.update(
        integration_id=integration.id,
        current_snapshot_id=snapshot_id,
        current_snapshot_at=at or datetime.now(UTC),
    )
    assert updated is not None
    return updated


CREATED: list[Container] = []  # settled and closed after each test (tests/access/conftest.py)


async def finished_run(
    store: Store,
    org: str,
    integration_id: str,
    trigger: SyncTrigger,
    *,
    requests_made: int,
    items_fetched: int,
    accounts: int,
) -> str:
    """The id of a SUCCEEDED access-review run of the integration with the given progress and
    account count, written straight to the store."""
    runs = store.sync_runs
    run = await runs.create(RunRequest(org, integration_id, Purpose.ACCESS_REVIEW, trigger))
    assert run is not None
    done = await runs.finish(
        run_id=run.id,
        fence=None,
        end=RunEnd(
            SyncRunStatus.SUCCEEDED,
            SyncProgress(
                phase=Phase.DONE.value, requests_made=requests_made, items_fetched=items_fetched
            ),
            counts=SnapshotCounts(accounts=accounts),
        ),
    )
    assert done is not None
    return run.id


def make_app(store: Store, *, grace: timedelta = timedelta(hours=24)) -> Container:
    """The application over ``store``, built by the composition root (no worker)."""
    settings = Settings(
        env="development",
        secret_key=generate_key(),
        evidence_hmac_key=generate_key(),
        run_worker=False,
        check_interval_minutes=15,
        offboarding_grace_hours=grace / timedelta(hours=1),
    )
    container = Container.build(settings, store, bus=InMemoryEventBus())
    CREATED.append(container)
    return container
