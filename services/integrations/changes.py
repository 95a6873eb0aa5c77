"""Announcing an integration's changes, and marking a refused authorization NEEDS_REAUTH.

``IntegrationChanges`` is built before both the client factory and ``IntegrationService``:
the client factory (a token refresh Atlassian refuses) and the sync runner report "needs
re-authorisation" here (the one place that writes it), and the service announces its own
changes here, so the client factory and the service need each other at no point of their
construction.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import KW_ONLY, dataclass
from typing import Any, Protocol

from services.events import EventBus, Registered, subscribe_now, topic_for
from services.integrations.models import Integration, IntegrationStatus

log = logging.getLogger(__name__)

OnIntegrationChange = Callable[[Integration], Awaitable[None]]
"""Told an integration after something about it changed."""

#: Bus channel announcing an integration's change (``integrationStatusChanged``).
INTEGRATIONS_CHANNEL = "integrations"


async def ignore_integration_change(integration: Integration) -> None:
    """The default: nobody needs to know."""


class IntegrationUpdates(Protocol):
    """The ``IntegrationRepository`` method ``IntegrationChanges`` calls."""

    async def update(
        self, *, integration_id: str, expect_status: IntegrationStatus | None = None, **fields: Any
    ) -> Integration | None: ...


@dataclass(eq=False, repr=False)
class IntegrationChanges:
    """Tells subscribers and the reactions that an integration changed."""

    bus: EventBus
    _: KW_ONLY
    integrations: IntegrationUpdates
    on_integration_changed: OnIntegrationChange = ignore_integration_change

    async def announce(self, integration: Integration) -> None:
        """Tell ``integrationStatusChanged`` subscribers (nothing else)."""
        await self.bus.publish(
            topic_for(integration.organization_id, INTEGRATIONS_CHANNEL),
            {"integration_id": integration.id},
        )

    def subscribe(self, organization_id: str) -> AsyncIterator[dict[str, Any]]:
        """The organization's integration change events (``{"integration_id": ...}``)."""
        return self.bus.subscribe(topic_for(organization_id, INTEGRATIONS_CHANNEL))

    async def subscribe_now(self, organization_id: str) -> Registered:
        """``subscribe``, registered when it returns (``services.events.subscribe_now``)."""
        return await subscribe_now(self.bus, topic_for(organization_id, INTEGRATIONS_CHANNEL))

    async def publish(self, integration: Integration) -> Integration:
        """Announce the change, then run the reaction to it; returns the integration."""
        await self.announce(integration)
        try:
            await self.on_integration_changed(integration)
        except Exception:
            log.exception("integration change callback failed for %s", integration.id)
        return integration

    async def mark_needs_reauth(self, integration: Integration, message: str) -> None:
        """Atlassian refused the stored authorization: a person must reconnect.

        Only a CONNECTED integration is marked (and announced): one disconnected while the
        refused run or refresh was in flight stays disconnected, and one already marked is
        not announced twice.
        """
        updated = await self.integrations.update(
            integration_id=integration.id,
            expect_status=IntegrationStatus.CONNECTED,
            status=IntegrationStatus.NEEDS_REAUTH,
            status_message=message,
        )
        if updated is not None:
            log.warning("integration needs re-authorisation", extra={"integration": integration.id})
            await self.publish(updated)
