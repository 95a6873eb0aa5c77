"""Per-request GraphQL context and the services resolvers may call."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import strawberry

from resolvers.limits import CostMeter
from services.alerts.service import AlertService
from services.api_keys import ApiKeyService
from services.audit.package import AuditPackages
from services.check_exceptions.service import ExceptionService
from services.checks.service import CheckService
from services.errors import Forbidden
from services.events import EventBus
from services.evidence.downloads import DownloadLinks
from services.evidence.service import EvidenceService
from services.identity.accounts import AccountService
from services.identity.service import IdentityService
from services.integrations.oauth_flow import OAuthFlow
from services.integrations.service import IntegrationService
from services.models import Principal
from services.organizations import OrganizationService
from services.people.service import PeopleService
from services.policies.service import PolicyService
from services.remediation.consent import RemediationConsent
from services.remediation.service import RemediationService
from services.reviews.service import AccessReviewService
from services.reviews.systems import CriticalSystemService
from services.sync.reads import SnapshotReader
from services.sync.service import SyncService
from services.users.service import MemberService
from services.users.sessions import SessionService
from services.watch.service import ChangeWatchService


@dataclass
class AppServices:
    """The services the GraphQL layer calls (built by the composition root)."""

    # The caller's organization and keys; the bus for subscriptions.
    api_keys: ApiKeyService
    organizations: OrganizationService
    bus: EventBus
    # People who sign in: members and invitations, sessions.
    members: MemberService
    sessions: SessionService
    # Connecting Confluence, syncing it, reading its snapshots.
    integrations: IntegrationService
    oauth: OAuthFlow
    sync: SyncService
    snapshots: SnapshotReader
    # Access reviews: people, account identities, critical systems, reviews.
    people: PeopleService
    identities: IdentityService
    accounts: AccountService
    systems: CriticalSystemService
    reviews: AccessReviewService
    # Checks and what they rest on.
    checks: CheckService
    policies: PolicyService
    evidence: EvidenceService
    downloads: DownloadLinks
    check_exceptions: ExceptionService
    # Telling people: alert channels and deliveries.
    alerts: AlertService
    # Carrying out remediation in Atlassian.
    remediation: RemediationService | None = None
    # The auditor's package (``vigil audit export``, ``GET /audit/package``).
    audit: AuditPackages | None = None
    remediation_consent: RemediationConsent | None = None
    # The change watch's state per integration (ADR 020).
    change_watch: ChangeWatchService | None = None


@dataclass
class Context:
    """What every resolver sees: services, the caller and a request id."""

    services: AppServices
    request_id: str
    principal: Principal | None = None
    request: Any = None
    response: Any = None
    connection_params: dict[str, Any] = field(default_factory=dict)
    # "http" or "websocket": subscriptions are refused over HTTP.
    transport: str = "http"
    memo: dict[Any, Any] = field(default_factory=dict)  # per-request lookups (resolvers)
    # The caller's budget of operation cost per minute, given by the transport.
    cost_meter: CostMeter | None = None


#: What every resolver of this schema receives as ``info``.
Info = strawberry.Info[Context, Any]


def principal_of(info: Info) -> Principal:
    """The authenticated caller (the transport refuses unauthenticated requests)."""
    principal = info.context.principal
    if principal is None:
        raise Forbidden("not authenticated", code="UNAUTHENTICATED")
    return principal
