"""Integrations: types, queries, connect mutations and ``integrationStatusChanged``."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry

from resolvers.context import Context, principal_of
from resolvers.errors import UserError, user_errors
from resolvers.sync_types import SyncRun
from services.errors import DomainError
from services.events import topic_for
from services.integrations import models


@strawberry.enum
class IntegrationPurpose(Enum):
    """What an integration is for."""

    ACCESS_REVIEW = "ACCESS_REVIEW"
    POLICY = "POLICY"


@strawberry.enum
class AuthMethod(Enum):
    """How Vigil authenticates to Confluence."""

    OAUTH = "OAUTH"
    CLIENT_CREDENTIALS = "CLIENT_CREDENTIALS"
    API_TOKEN = "API_TOKEN"


@strawberry.enum
class IntegrationStatus(Enum):
    """Lifecycle of an integration."""

    PENDING_AUTHORIZATION = "PENDING_AUTHORIZATION"
    SITE_SELECTION_REQUIRED = "SITE_SELECTION_REQUIRED"
    CONNECTED = "CONNECTED"
    NEEDS_REAUTH = "NEEDS_REAUTH"
    ERROR = "ERROR"
    DISCONNECTED = "DISCONNECTED"


@strawberry.type
class ConfluenceSite:
    """A Confluence Cloud site."""

    cloud_id: str | None
    url: str
    name: str | None

    @classmethod
    def from_domain(cls, site: models.ConfluenceSite) -> ConfluenceSite:
        """Map the domain object."""
        return cls(cloud_id=site.cloud_id, url=site.url, name=site.name)


@strawberry.type
class Integration:
    """One Confluence connection of the organization. No field ever holds a secret."""

    id: strawberry.ID
    purpose: IntegrationPurpose
    auth_method: AuthMethod
    status: IntegrationStatus
    status_message: str | None
    site: ConfluenceSite | None
    available_sites: list[ConfluenceSite]
    granted_scopes: list[str]
    connected_at: datetime | None
    connected_as: str | None
    last_sync_at: datetime | None
    current_snapshot_at: datetime | None
    sync_interval_minutes: int
    has_admin_key: bool
    admin_org_id: str | None

    @strawberry.field(description="The integration's most recent sync run, if any.")
    async def latest_sync_run(self, info: strawberry.Info[Context, Any]) -> SyncRun | None:
        run = await info.context.services.sync.latest_run(principal_of(info), str(self.id))
        return SyncRun.from_domain(run) if run else None

    @classmethod
    def from_domain(cls, i: models.Integration) -> Integration:
        """Map the domain object."""
        return cls(
            id=strawberry.ID(i.id),
            purpose=IntegrationPurpose(i.purpose.value),
            auth_method=AuthMethod(i.auth_method.value),
            status=IntegrationStatus(i.status.value),
            status_message=i.status_message,
            site=ConfluenceSite.from_domain(i.site) if i.site else None,
            available_sites=[ConfluenceSite.from_domain(s) for s in i.available_sites],
            granted_scopes=list(i.granted_scopes),
            connected_at=i.connected_at,
            connected_as=i.connected_as,
            last_sync_at=i.last_sync_at,
            current_snapshot_at=i.current_snapshot_at,
            sync_interval_minutes=i.sync_interval_minutes,
            has_admin_key=i.has_admin_key,
            admin_org_id=i.admin_org_id,
        )


@strawberry.input
class StartConfluenceOAuthInput:
    """Start the OAuth 2.0 (3LO) flow; the caller confirms admin access to the site."""

    purpose: IntegrationPurpose
    confirm_admin_access: bool = False


@strawberry.input
class SelectConfluenceSiteInput:
    """Choose one of several authorized sites."""

    integration_id: strawberry.ID
    cloud_id: str


@strawberry.input
class ConnectClientCredentialsInput:
    """An Atlassian service account's OAuth client credentials and its site."""

    purpose: IntegrationPurpose
    client_id: str
    client_secret: str
    site_url: str


@strawberry.input
class ConnectApiTokenInput:
    """A site API token (Basic auth); the caller confirms having the credentials."""

    purpose: IntegrationPurpose
    domain: str
    email: str
    api_token: str
    confirm_credentials: bool = False


@strawberry.input
class SetAtlassianAdminKeyInput:
    """An Atlassian organization admin API key for MFA and authoritative status."""

    integration_id: strawberry.ID
    org_id: str
    api_key: str


@strawberry.type
class IntegrationPayload:
    """An integration after a change."""

    integration: Integration | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class StartConfluenceOAuthPayload:
    """The pending integration and the URL to send the browser to."""

    integration: Integration | None = None
    authorization_url: str | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


async def _integration_payload(
    call: Callable[[], Awaitable[models.Integration]],
) -> IntegrationPayload:
    try:
        integration = await call()
    except DomainError as exc:
        return IntegrationPayload(user_errors=user_errors(exc))
    return IntegrationPayload(integration=Integration.from_domain(integration))


@strawberry.type
class IntegrationQuery:
    """Integrations of the caller's organization."""

    @strawberry.field(description="The organization's integrations, newest first.")
    async def integrations(self, info: strawberry.Info[Context, Any]) -> list[Integration]:
        found = await info.context.services.integrations.list(principal_of(info))
        return [Integration.from_domain(i) for i in found]

    @strawberry.field(description="One integration, or null.")
    async def integration(
        self, info: strawberry.Info[Context, Any], id: strawberry.ID
    ) -> Integration | None:
        found = await info.context.services.integrations.get(principal_of(info), str(id))
        return Integration.from_domain(found) if found else None


@strawberry.type
class IntegrationMutation:
    """Connecting and disconnecting Confluence (ADMIN)."""

    @strawberry.mutation(
        name="startConfluenceOAuth",
        description="Start OAuth 2.0 (3LO): returns Atlassian's consent URL.",
    )
    async def start_confluence_oauth(
        self, info: strawberry.Info[Context, Any], input: StartConfluenceOAuthInput
    ) -> StartConfluenceOAuthPayload:
        try:
            integration, url = await info.context.services.oauth.start(
                principal_of(info),
                purpose=models.Purpose(input.purpose.value),
                confirm_admin_access=input.confirm_admin_access,
            )
        except DomainError as exc:
            return StartConfluenceOAuthPayload(user_errors=user_errors(exc))
        return StartConfluenceOAuthPayload(
            integration=Integration.from_domain(integration), authorization_url=url
        )

    @strawberry.mutation(description="Finish OAuth when several sites were authorized.")
    async def select_confluence_site(
        self, info: strawberry.Info[Context, Any], input: SelectConfluenceSiteInput
    ) -> IntegrationPayload:
        return await _integration_payload(
            lambda: info.context.services.oauth.select_site(
                principal_of(info),
                integration_id=str(input.integration_id),
                cloud_id=input.cloud_id,
            )
        )

    @strawberry.mutation(description="Connect with an Atlassian service account.")
    async def connect_confluence_client_credentials(
        self, info: strawberry.Info[Context, Any], input: ConnectClientCredentialsInput
    ) -> IntegrationPayload:
        return await _integration_payload(
            lambda: info.context.services.integrations.connect_client_credentials(
                principal_of(info),
                purpose=models.Purpose(input.purpose.value),
                client_id=input.client_id,
                client_secret=input.client_secret,
                site_url=input.site_url,
            )
        )

    @strawberry.mutation(description="Connect with a site API token (email + token).")
    async def connect_confluence_api_token(
        self, info: strawberry.Info[Context, Any], input: ConnectApiTokenInput
    ) -> IntegrationPayload:
        return await _integration_payload(
            lambda: info.context.services.integrations.connect_api_token(
                principal_of(info),
                purpose=models.Purpose(input.purpose.value),
                domain=input.domain,
                email=input.email,
                api_token=input.api_token,
                confirm_credentials=input.confirm_credentials,
            )
        )

    @strawberry.mutation(description="Attach an Atlassian organization admin API key.")
    async def set_atlassian_admin_key(
        self, info: strawberry.Info[Context, Any], input: SetAtlassianAdminKeyInput
    ) -> IntegrationPayload:
        return await _integration_payload(
            lambda: info.context.services.integrations.set_admin_key(
                principal_of(info),
                integration_id=str(input.integration_id),
                org_id=input.org_id,
                api_key=input.api_key,
            )
        )

    @strawberry.mutation(
        description=(
            "Detach the Atlassian organization admin API key: MFA and last activity are no "
            "longer collected. Starts a sync (or one follow-up of the running sync)."
        )
    )
    async def remove_atlassian_admin_key(
        self, info: strawberry.Info[Context, Any], integration_id: strawberry.ID
    ) -> IntegrationPayload:
        return await _integration_payload(
            lambda: info.context.services.integrations.remove_admin_key(
                principal_of(info), str(integration_id)
            )
        )

    @strawberry.mutation(description="Delete the credential and stop syncing; data is kept.")
    async def disconnect_integration(
        self, info: strawberry.Info[Context, Any], id: strawberry.ID
    ) -> IntegrationPayload:
        return await _integration_payload(
            lambda: info.context.services.integrations.disconnect(principal_of(info), str(id))
        )


@strawberry.type
class IntegrationSubscription:
    """Integration status changes of the caller's organization."""

    @strawberry.subscription(description="Every change of an integration's status or details.")
    async def integration_status_changed(
        self, info: strawberry.Info[Context, Any]
    ) -> AsyncGenerator[Integration, None]:
        principal = principal_of(info)
        services = info.context.services
        async for event in services.bus.subscribe(
            topic_for(principal.organization_id, "integrations")
        ):
            found = await services.integrations.get(principal, event["integration_id"])
            if found is not None:
                yield Integration.from_domain(found)
