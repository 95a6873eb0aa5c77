"""The seam between connecting and syncing: authenticated clients for one run.

The sync pipeline never sees credentials. For each run it asks a ``ConnectorFactory`` to
``open`` a ``Connector`` for the integration — clients authenticated for it, reporting every
retry to the run's observer — and closes it when the run ends.

Authentication failures (the credential was revoked, a refresh token is dead) must surface
as the clients' own errors, raised from ``open`` or from any client call:
``ConfluenceAuthError`` (401, including ``ConfluenceScopeError``) or an OAuth
``InvalidGrant`` / ``InvalidClient`` / ``InvalidToken``. The run then fails cleanly and the
integration is marked ``NEEDS_REAUTH`` (see ``services.sync.failures``).
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from services.atlassian.admin import AdminClient
from services.confluence.client import ConfluenceClient
from services.confluence.retry import RetryObserver
from services.integrations.models import Integration


class Connector(Protocol):
    """Clients for one integration, valid until the factory's context exits.

    - ``confluence`` is authenticated for the integration's site (site URL with Basic auth,
      or the ``api.atlassian.com/ex/confluence/{cloudId}`` gateway with a bearer token) and
      its RetryPolicy reports to the observer given to ``open``.
    - ``admin`` is the Atlassian Admin API client when an admin API key is attached (same
      observer), else None; ``admin_org_id`` is the Atlassian organization it reads.
    """

    @property
    def confluence(self) -> ConfluenceClient:
        """The Confluence client."""
        ...

    @property
    def admin(self) -> AdminClient | None:
        """The Admin API client, or None without an admin key."""
        ...

    @property
    def admin_org_id(self) -> str | None:
        """The Atlassian organization id the admin key belongs to."""
        ...


class ConnectorFactory(Protocol):
    """Opens a ``Connector`` per run.

    ``open`` returns an async context manager: entering it may read and decrypt
    credentials, refresh tokens and create the HTTP client; exiting closes the HTTP client.
    ``observer`` receives a ``RetryEvent`` for every retried request (it counts retries and
    rate-limit waits for the run's progress and metrics); pass it to
    ``RetryPolicy.with_observer``. Never log or put credentials in error messages.
    """

    def open(
        self, integration: Integration, observer: RetryObserver
    ) -> AbstractAsyncContextManager[Connector]:
        """Clients for ``integration`` reporting retries to ``observer``."""
        ...


@dataclass(frozen=True, slots=True)
class Clients:
    """A plain ``Connector``: what a factory usually yields."""

    confluence: ConfluenceClient
    admin: AdminClient | None = None
    admin_org_id: str | None = None
