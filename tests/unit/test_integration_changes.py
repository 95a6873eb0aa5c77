"""The one "needs re-authorisation" write (``IntegrationChanges.mark_needs_reauth``), used by
the sync runner and by a refused token refresh alike."""

from __future__ import annotations

import asyncio

from services.events import InMemoryEventBus, topic_for
from services.integrations.changes import INTEGRATIONS_CHANNEL, IntegrationChanges
from services.integrations.models import Integration, IntegrationStatus, Purpose
from services.store import Store
from testkit.sync import connected_integration


async def test_a_refused_authorization_marks_only_a_connected_integration(store: Store) -> None:
    bus = InMemoryEventBus()
    reacted: list[str] = []

    async def after_integration_changed(integration: Integration) -> None:
        reacted.append(integration.id)

    changes = IntegrationChanges(
        bus, integrations=store.integrations, on_integration_changed=after_integration_changed
    )
    org = await store.organizations.create(name="Acme")
    connected = await connected_integration(store, org.id)
    events = bus.subscribe(topic_for(org.id, INTEGRATIONS_CHANNEL))
    waiter = asyncio.ensure_future(anext(events))
    await asyncio.sleep(0)  # subscribed before anything is published

    await changes.mark_needs_reauth(connected, "reconnect Confluence")
    stored = await store.integrations.get_by_id(integration_id=connected.id)
    assert stored is not None and stored.status is IntegrationStatus.NEEDS_REAUTH
    assert stored.status_message == "reconnect Confluence"
    assert await asyncio.wait_for(waiter, 2) == {"integration_id": connected.id}
    assert reacted == [connected.id]

    # Disconnected while a run (or a refresh) was in flight: its late refusal must not bring
    # the integration back as NEEDS_REAUTH (a live status, which would hold the purpose).
    gone = await connected_integration(store, org.id, Purpose.POLICY)
    await store.integrations.update(integration_id=gone.id, status=IntegrationStatus.DISCONNECTED)
    await changes.mark_needs_reauth(gone, "reconnect Confluence")
    after = await store.integrations.get_by_id(integration_id=gone.id)
    assert after is not None and after.status is IntegrationStatus.DISCONNECTED
    assert (
        await store.integrations.get_live_for_purpose(
            organization_id=org.id, purpose=Purpose.POLICY
        )
        is None
    )
    assert reacted == [connected.id]  # nothing announced, nothing re-evaluated
    await events.aclose()  # type: ignore[attr-defined]
