"""Integration domain objects."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

DEFAULT_POLICY_CQL = 'type = page and label = "policy"'
DEFAULT_ADMIN_GROUPS = ("confluence-administrators", "site-admins", "administrators")


class Purpose(enum.StrEnum):
    """What an integration is for; at most one of each per organization."""

    ACCESS_REVIEW = "ACCESS_REVIEW"
    POLICY = "POLICY"


class AuthMethod(enum.StrEnum):
    """How Vigil authenticates to Confluence."""

    OAUTH = "OAUTH"
    CLIENT_CREDENTIALS = "CLIENT_CREDENTIALS"
    API_TOKEN = "API_TOKEN"


class IntegrationStatus(enum.StrEnum):
    """Lifecycle of an integration (SPEC §2.5)."""

    PENDING_AUTHORIZATION = "PENDING_AUTHORIZATION"
    SITE_SELECTION_REQUIRED = "SITE_SELECTION_REQUIRED"
    CONNECTED = "CONNECTED"
    NEEDS_REAUTH = "NEEDS_REAUTH"
    ERROR = "ERROR"
    DISCONNECTED = "DISCONNECTED"


ACTIVE_STATUSES = frozenset(
    {
        IntegrationStatus.PENDING_AUTHORIZATION,
        IntegrationStatus.SITE_SELECTION_REQUIRED,
        IntegrationStatus.CONNECTED,
        IntegrationStatus.NEEDS_REAUTH,
    }
)


@dataclass(frozen=True, slots=True)
class ConfluenceSite:
    """A Confluence Cloud site: its cloud id (when known), base URL and name."""

    url: str
    cloud_id: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Integration:
    """One Confluence connection of an organization (never holds secrets)."""

    id: str
    organization_id: str
    purpose: Purpose
    auth_method: AuthMethod
    status: IntegrationStatus
    created_at: datetime
    updated_at: datetime
    status_message: str | None = None
    site: ConfluenceSite | None = None
    available_sites: tuple[ConfluenceSite, ...] = ()
    granted_scopes: tuple[str, ...] = ()
    connected_at: datetime | None = None
    connected_by: str | None = None
    connected_as: str | None = None
    last_sync_at: datetime | None = None
    current_snapshot_id: str | None = None
    current_snapshot_at: datetime | None = None
    sync_interval_minutes: int = 360
    admin_org_id: str | None = None
    has_admin_key: bool = False
    cql: str = DEFAULT_POLICY_CQL
    admin_groups: tuple[str, ...] = field(default=DEFAULT_ADMIN_GROUPS)


class CurrentSnapshot:
    """Of data read from ``integration``'s current snapshot: which snapshot, and when it was
    made current (None without an integration)."""

    integration: Integration | None

    @property
    def snapshot_id(self) -> str | None:
        """The integration's current snapshot."""
        return self.integration.current_snapshot_id if self.integration else None

    @property
    def snapshot_at(self) -> datetime | None:
        """When that snapshot was made current."""
        return self.integration.current_snapshot_at if self.integration else None


@dataclass(frozen=True, slots=True)
class CredentialRecord:
    """The stored (encrypted) secrets of one integration and their version."""

    integration_id: str
    organization_id: str
    version: int
    envelopes: Mapping[str, Mapping[str, Any]]
    versions: Mapping[str, int] = field(default_factory=dict)

    def label_version(self, label: str) -> int:
        """How many times ``label`` was written (what ``swap`` compares)."""
        return int(self.versions.get(label, 0))


@dataclass(frozen=True, slots=True)
class OAuthState:
    """What an OAuth ``state`` value is bound to (stored hashed, single use, short-lived)."""

    organization_id: str
    integration_id: str
    expires_at: datetime
    upgrade: bool = (
        False  # re-consent of a CONNECTED integration for more scopes (remediation's write scopes)
    )
