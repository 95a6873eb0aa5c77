"""A ``ConnectorFactory`` with fixed credentials: API-token Basic auth and an optional admin key.

For tests, benchmarks and the simulator (every integration gets the same site and
credentials). Real integrations use the factory of ``services.integrations``, which reads
each integration's encrypted credential.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from services.atlassian.admin import AdminClient
from services.confluence.auth import BasicAuth
from services.confluence.client import ConfluenceClient
from services.confluence.requester import DEFAULT_MAX_CONCURRENCY
from services.confluence.retry import RetryObserver, RetryPolicy
from services.integrations.models import Integration
from services.sync.connector import Clients, Connector


@dataclass(frozen=True)
class StaticConnectorFactory:
    """Clients for ``site_url`` with Basic ``email:api_token``; Admin API at ``api_url``.

    ``event_hooks``: httpx's, on the HTTP client of every connector (tests that watch the
    requests a sync sends); ``transport``: the client's (an ASGI app served in-process)."""

    site_url: str
    email: str
    api_token: str = field(repr=False)
    api_url: str | None = None
    admin_api_key: str | None = field(default=None, repr=False)
    admin_org_id: str | None = None
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    timeout: float = 30.0
    event_hooks: Mapping[str, list[Callable[[Any], Awaitable[None]]]] | None = None
    transport: httpx.AsyncBaseTransport | None = None

    def open(
        self, integration: Integration, observer: RetryObserver
    ) -> AbstractAsyncContextManager[Connector]:
        """Clients for any integration, reporting retries to ``observer``."""
        return self._open(observer)

    @asynccontextmanager
    async def _open(self, observer: RetryObserver) -> AsyncIterator[Connector]:
        policy = self.policy.with_observer(observer)
        limits = httpx.Limits(max_connections=self.max_concurrency * 2)
        async with httpx.AsyncClient(
            timeout=self.timeout,
            limits=limits,
            event_hooks=self.event_hooks,
            transport=self.transport,
        ) as http:
            confluence = ConfluenceClient(
                http,
                self.site_url,
                BasicAuth(self.email, self.api_token),
                policy,
                max_concurrency=self.max_concurrency,
            )
            admin = None
            if self.admin_api_key and self.admin_org_id and self.api_url:
                admin = AdminClient(http, self.admin_api_key, policy, api_base=self.api_url)
            yield Clients(confluence, admin, self.admin_org_id if admin else None)
