"""A POLICY integration with a current snapshot of chosen pages, straight in the store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.integrations.models import Integration, Purpose
from services.policies.state import PolicyStateLoader
from services.store import Store
from services.sync.models import SnapshotPage, SnapshotScope
from services.sync.reads import SnapshotReader
from testkit.sync import connected_integration

NOW = datetime.now(UTC).replace(microsecond=0)
FULL_BODY = "<h1>Purpose</h1><p>Why.</p><h2>Scope</h2><p>Who.</p><h2>Policy</h2><ul><li>R</li></ul>"


def page(
    page_id: str,
    title: str,
    *,
    status: str = "current",
    body: str = FULL_BODY,
    age_days: int = 10,
    version: int = 2,
) -> SnapshotPage:
    """A synced page as the snapshot keeps it."""
    return SnapshotPage(
        page_id=page_id,
        title=title,
        status=status,
        space_key="POL",
        space_name="Policies",
        version=version,
        last_modified_at=NOW - timedelta(days=age_days),
        last_modified_by="acc-1",
        created_at=NOW - timedelta(days=900),
        created_by="acc-1",
        labels=("policy",),
        web_url=f"https://acme.atlassian.net/wiki/pages/{page_id}",
        body_storage=body,
    )


async def policy_snapshot(
    store: Store,
    organization_id: str,
    pages: list[SnapshotPage],
    *,
    integration: Integration | None = None,
    snapshot_id: str = "snap_1",
) -> Integration:
    """Write ``pages`` as a snapshot and make it the POLICY integration's current one."""
    if integration is None:
        integration = await connected_integration(store, organization_id, Purpose.POLICY)
    scope = SnapshotScope(snapshot_id, integration.id, organization_id)
    await store.snapshot_data.upsert_pages(scope, pages)
    await store.snapshot_data.record_counts(snapshot_id)  # as a run commits
    updated = await store.integrations.update(
        integration_id=integration.id, current_snapshot_id=snapshot_id, current_snapshot_at=NOW
    )
    assert updated is not None
    return updated


def state_loader(store: Store) -> PolicyStateLoader:
    """The policy state loader over ``store``'s repositories."""
    return PolicyStateLoader(
        SnapshotReader(integrations=store.integrations, snapshot_queries=store.snapshot_queries),
        organizations=store.organizations,
        policies=store.policies,
        snapshot_queries=store.snapshot_queries,
    )
