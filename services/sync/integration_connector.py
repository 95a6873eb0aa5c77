"""The ``ConnectorFactory`` of real integrations: clients from the stored, encrypted credential.

Adapts ``services.integrations.clients.ClientFactory`` to the sync seam: one HTTP
client per run (keep-alive, timeouts), the sync retry policy reporting to the run's observer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from services.confluence.http import open_session
from services.confluence.retry import RetryObserver, RetryPolicy
from services.integrations.clients import ClientFactory
from services.integrations.models import Integration
from services.sync.connector import Clients, Connector

#: Seconds: reading, writing or waiting for a connection; and connecting.
SYNC_TIMEOUT, SYNC_CONNECT_TIMEOUT = 30.0, 10.0


class IntegrationConnectorFactory:
    """Opens clients for a stored integration (API token, client credentials or OAuth)."""

    def __init__(self, clients: ClientFactory, policy: RetryPolicy | None = None) -> None:
        self._clients = clients
        self._policy = policy or RetryPolicy()

    def open(
        self, integration: Integration, observer: RetryObserver
    ) -> AbstractAsyncContextManager[Connector]:
        """Clients for ``integration``; auth failures surface as the clients' errors."""
        return self._open(integration, observer)

    @asynccontextmanager
    async def _open(
        self, integration: Integration, observer: RetryObserver
    ) -> AsyncIterator[Connector]:
        policy = self._policy.with_observer(observer)
        headers = {"User-Agent": "Vigil"}
        session = open_session(timeout=SYNC_TIMEOUT, connect=SYNC_CONNECT_TIMEOUT, headers=headers)
        async with session as http:
            confluence = await self._clients.confluence_for(integration, policy, http)
            admin = await self._clients.admin_for(integration, policy, http)
            org_id = integration.admin_org_id if admin is not None else None
            yield Clients(confluence, admin, org_id)
