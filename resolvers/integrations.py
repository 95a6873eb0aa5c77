"""Integrations: types, queries, connect mutations and ``integrationStatusChanged``."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from datetime import datetime
from enum import Enum
from typing import Annotated, Any

import strawberry

from resolvers.context import Context, principal_of
from resolvers.errors import UserError, user_errors
from resolvers.relay import USER_ERRORS, Node, wire
from resolvers.sync_types import SyncRun
from services.errors import DomainError
from services.events import topic_for
from services.integrations import models
from services.integrations.settings import SettingsChange, update_settings


@strawberry.enum(
    description="What an integration is for; an organization has at most one connected "
    "integration per purpose."
)
class IntegrationPurpose(Enum):
    ACCESS_REVIEW = strawberry.enum_value(
        "ACCESS_REVIEW",
        description="Read users, groups and admin rights of the site (access checks, reviews).",
    )
    POLICY = strawberry.enum_value(
        "POLICY", description="Read policy pages of the site (policy checks)."
    )


@strawberry.enum(description="How Vigil authenticates to Confluence.")
class AuthMethod(Enum):
    OAUTH = strawberry.enum_value(
        "OAUTH", description="OAuth 2.0 (3LO) consent of a site admin (`startConfluenceOAuth`)."
    )
    CLIENT_CREDENTIALS = strawberry.enum_value(
        "CLIENT_CREDENTIALS",
        description="An Atlassian service account's OAuth client id and secret.",
    )
    API_TOKEN = strawberry.enum_value(
        "API_TOKEN", description="A user's email and site API token (Basic auth)."
    )


@strawberry.enum(description="Lifecycle of an integration.")
class IntegrationStatus(Enum):
    PENDING_AUTHORIZATION = strawberry.enum_value(
        "PENDING_AUTHORIZATION",
        description="OAuth started; waiting for the browser to come back from Atlassian.",
    )
    SITE_SELECTION_REQUIRED = strawberry.enum_value(
        "SITE_SELECTION_REQUIRED",
        description="Several sites were authorized: call `selectConfluenceSite` with one of "
        "`availableSites`.",
    )
    CONNECTED = strawberry.enum_value(
        "CONNECTED", description="Working: syncs run every `syncIntervalMinutes`."
    )
    NEEDS_REAUTH = strawberry.enum_value(
        "NEEDS_REAUTH",
        description="The credential was refused (revoked or expired): connect again.",
    )
    ERROR = strawberry.enum_value(
        "ERROR", description="Connecting failed; `statusMessage` says why."
    )
    DISCONNECTED = strawberry.enum_value(
        "DISCONNECTED",
        description="Disconnected by an ADMIN: credential deleted, data and evidence kept.",
    )


@strawberry.type(description="A Confluence Cloud site.")
class ConfluenceSite:
    cloud_id: str | None = strawberry.field(
        description="Atlassian's cloud id of the site; null until known (API token connections "
        "learn it on connect)."
    )
    url: str = strawberry.field(description="The site's URL, e.g. https://acme.atlassian.net.")
    name: str | None = strawberry.field(description="The site's name as Atlassian reports it.")

    @classmethod
    def from_domain(cls, site: models.ConfluenceSite) -> ConfluenceSite:
        """Map the domain object."""
        return cls(cloud_id=site.cloud_id, url=site.url, name=site.name)


@strawberry.type(
    description="One Confluence connection of the organization. No field ever holds a secret."
)
class Integration(Node):
    id: strawberry.ID = strawberry.field(description="Opaque integration id.")
    purpose: IntegrationPurpose = strawberry.field(description="What the integration is for.")
    auth_method: AuthMethod = strawberry.field(description="How Vigil authenticates.")
    status: IntegrationStatus = strawberry.field(description="Where it is in its lifecycle.")
    status_message: str | None = strawberry.field(
        description="Why the status is what it is (e.g. the refusal behind NEEDS_REAUTH)."
    )
    site: ConfluenceSite | None = strawberry.field(
        description="The connected site; null until one is chosen."
    )
    available_sites: list[ConfluenceSite] = strawberry.field(
        description="Sites the OAuth consent authorized (to choose from when "
        "SITE_SELECTION_REQUIRED); empty otherwise."
    )
    granted_scopes: list[str] = strawberry.field(
        description="OAuth scopes Atlassian granted (empty for API tokens)."
    )
    connected_at: datetime | None = strawberry.field(
        description="When the connection was made (UTC)."
    )
    connected_as: str | None = strawberry.field(
        description="The Atlassian account the credential acts as (e.g. the token's email)."
    )
    last_sync_at: datetime | None = strawberry.field(
        description="When the last successful sync committed its snapshot (UTC)."
    )
    current_snapshot_at: datetime | None = strawberry.field(
        description="When the data now shown was collected (UTC)."
    )
    sync_interval_minutes: int = strawberry.field(
        description="Minutes between scheduled syncs (default 360)."
    )
    has_admin_key: bool = strawberry.field(
        description="True when an Atlassian organization admin API key is attached "
        "(`setAtlassianAdminKey`), giving MFA and authoritative account status."
    )
    admin_org_id: str | None = strawberry.field(
        description="The Atlassian organization id the admin key is for."
    )
    cql: str | None = strawberry.field(
        description="POLICY: the CQL selecting the policy pages (default `type = page and "
        'label = "policy"`); null for ACCESS_REVIEW.'
    )
    admin_groups: list[str] = strawberry.field(
        description="ACCESS_REVIEW: the names of the groups whose members count as admins "
        "(compared case-insensitively); empty for POLICY."
    )

    @strawberry.field(description="The integration's most recent sync run; null before any.")
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
            cql=i.cql if i.purpose is models.Purpose.POLICY else None,
            admin_groups=list(i.admin_groups) if i.purpose is models.Purpose.ACCESS_REVIEW else [],
        )


@strawberry.input(
    description="Start the OAuth 2.0 (3LO) flow; the caller confirms admin access to the site."
)
class StartConfluenceOAuthInput:
    purpose: IntegrationPurpose = strawberry.field(description="What the integration is for.")
    confirm_admin_access: bool = strawberry.field(
        default=False,
        description="Must be true: the consenting Atlassian user is a site admin (Vigil "
        "reads admin-only data). False is a VALIDATION_FAILED userError.",
    )


@strawberry.input(description="Choose one of several sites authorized by the OAuth consent.")
class SelectConfluenceSiteInput:
    integration_id: strawberry.ID = strawberry.field(
        description="The integration in SITE_SELECTION_REQUIRED."
    )
    cloud_id: str = strawberry.field(description="`cloudId` of one of its `availableSites`.")


@strawberry.input(description="An Atlassian service account's OAuth client credentials and site.")
class ConnectClientCredentialsInput:
    purpose: IntegrationPurpose = strawberry.field(description="What the integration is for.")
    client_id: str = strawberry.field(description="The service account's OAuth client id.")
    client_secret: str = strawberry.field(
        description="The service account's OAuth client secret (stored encrypted, never shown)."
    )
    site_url: str = strawberry.field(
        description="The Confluence Cloud site, e.g. `acme.atlassian.net` or its https URL."
    )


@strawberry.input(
    description="A site API token (Basic auth); the caller confirms having the credentials."
)
class ConnectApiTokenInput:
    purpose: IntegrationPurpose = strawberry.field(description="What the integration is for.")
    domain: str = strawberry.field(
        description="The Confluence Cloud site, e.g. `acme.atlassian.net`."
    )
    email: str = strawberry.field(description="Email of the Atlassian account owning the token.")
    api_token: str = strawberry.field(
        description="The Atlassian API token (stored encrypted, never shown)."
    )
    confirm_credentials: bool = strawberry.field(
        default=False,
        description="Must be true: the caller may use these credentials for Vigil.",
    )


@strawberry.input(
    description="An Atlassian organization admin API key, for MFA and authoritative status."
)
class SetAtlassianAdminKeyInput:
    integration_id: strawberry.ID = strawberry.field(
        description="The ACCESS_REVIEW integration to attach the key to."
    )
    org_id: str = strawberry.field(
        description="The Atlassian organization id (admin.atlassian.com)."
    )
    api_key: str = strawberry.field(
        description="The organization admin API key (stored encrypted, never shown)."
    )


@strawberry.input(
    description="Change an integration's sync settings; omitted fields keep their value. "
    "Changes apply from the next sync."
)
class UpdateIntegrationSettingsInput:
    integration_id: strawberry.ID = strawberry.field(description="The integration.")
    sync_interval_minutes: int | None = strawberry.field(
        default=None, description="Minutes between scheduled syncs: 5 to 10080 (a week)."
    )
    cql: str | None = strawberry.field(
        default=None,
        description="POLICY only: the CQL selecting policy pages (1-1000 characters). Vigil "
        "cannot check it before the next sync; a query Confluence rejects fails that sync "
        "with Confluence's message in `SyncRun.error`.",
    )
    admin_groups: list[str] | None = strawberry.field(
        default=None,
        description="ACCESS_REVIEW only: 1 to 50 group names (1-255 characters each) whose "
        "members count as admins.",
    )


@strawberry.type(description="An integration after a change.")
class IntegrationPayload:
    integration: Integration | None = strawberry.field(
        default=None, description="The integration after the change; null on userErrors."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list, description=USER_ERRORS)


@strawberry.type(description="The pending integration and the URL to send the browser to.")
class StartConfluenceOAuthPayload:
    integration: Integration | None = strawberry.field(
        default=None,
        description="The new integration in PENDING_AUTHORIZATION; null on userErrors.",
    )
    authorization_url: str | None = strawberry.field(
        default=None,
        description="Atlassian's consent URL: navigate the browser there (top-level, not in a "
        "frame). Atlassian redirects back to /oauth/confluence/callback, which redirects to "
        "`VIGIL_FRONTEND_URL/?integration=<id>&status=<status>&message=<text>`. Single use; "
        "expires after 10 minutes.",
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list, description=USER_ERRORS)


async def _integration_payload(
    info: strawberry.Info[Context, Any],
    call: Callable[[], Awaitable[models.Integration]],
) -> IntegrationPayload:
    try:
        integration = await call()
    except DomainError as exc:
        return IntegrationPayload(user_errors=user_errors(exc, info))
    return IntegrationPayload(integration=Integration.from_domain(integration))


@strawberry.type(description="Integrations of the caller's organization.")
class IntegrationQuery:
    @strawberry.field(
        description="The organization's integrations, newest first (every role). DISCONNECTED "
        "ones are left out unless `status` asks for them."
    )
    async def integrations(
        self,
        info: strawberry.Info[Context, Any],
        status: Annotated[
            list[IntegrationStatus] | None,
            strawberry.argument(
                description="Only integrations in one of these statuses; default: every "
                "status except DISCONNECTED."
            ),
        ] = None,
        purpose: Annotated[
            IntegrationPurpose | None,
            strawberry.argument(description="Only integrations for this purpose."),
        ] = None,
    ) -> list[Integration]:
        found = await info.context.services.integrations.list(principal_of(info))
        wanted = {wire(s) for s in status} if status is not None else _LISTED_BY_DEFAULT
        return [
            Integration.from_domain(i)
            for i in found
            if i.status.value in wanted and (purpose is None or i.purpose.value == wire(purpose))
        ]

    @strawberry.field(
        description="One integration of the organization, or null when there is none with "
        "this id (every role)."
    )
    async def integration(
        self,
        info: strawberry.Info[Context, Any],
        id: Annotated[strawberry.ID, strawberry.argument(description="The integration id.")],
    ) -> Integration | None:
        found = await info.context.services.integrations.get(principal_of(info), str(id))
        return Integration.from_domain(found) if found else None


_LISTED_BY_DEFAULT = frozenset(
    wire(s) for s in IntegrationStatus if s is not IntegrationStatus.DISCONNECTED
)


@strawberry.type(description="Connecting and disconnecting Confluence (ADMIN).")
class IntegrationMutation:
    @strawberry.mutation(
        name="startConfluenceOAuth",
        description="Start OAuth 2.0 (3LO) (ADMIN): creates a PENDING_AUTHORIZATION "
        "integration and returns Atlassian's consent URL to navigate to.",
    )
    async def start_confluence_oauth(
        self,
        info: strawberry.Info[Context, Any],
        input: Annotated[
            StartConfluenceOAuthInput, strawberry.argument(description="Purpose and consent.")
        ],
    ) -> StartConfluenceOAuthPayload:
        try:
            integration, url = await info.context.services.oauth.start(
                principal_of(info),
                purpose=models.Purpose(wire(input.purpose)),
                confirm_admin_access=input.confirm_admin_access,
            )
        except DomainError as exc:
            return StartConfluenceOAuthPayload(user_errors=user_errors(exc, info))
        return StartConfluenceOAuthPayload(
            integration=Integration.from_domain(integration), authorization_url=url
        )

    @strawberry.mutation(
        description="Finish OAuth when several sites were authorized (ADMIN): the integration "
        "becomes CONNECTED and its first sync starts."
    )
    async def select_confluence_site(
        self,
        info: strawberry.Info[Context, Any],
        input: Annotated[
            SelectConfluenceSiteInput, strawberry.argument(description="The site to use.")
        ],
    ) -> IntegrationPayload:
        return await _integration_payload(
            info,
            lambda: info.context.services.oauth.select_site(
                principal_of(info),
                integration_id=str(input.integration_id),
                cloud_id=input.cloud_id,
            ),
        )

    @strawberry.mutation(
        description="Connect with an Atlassian service account (ADMIN); credentials are "
        "verified first, then the first sync starts."
    )
    async def connect_confluence_client_credentials(
        self,
        info: strawberry.Info[Context, Any],
        input: Annotated[
            ConnectClientCredentialsInput, strawberry.argument(description="The credentials.")
        ],
    ) -> IntegrationPayload:
        return await _integration_payload(
            info,
            lambda: info.context.services.integrations.connect_client_credentials(
                principal_of(info),
                purpose=models.Purpose(wire(input.purpose)),
                client_id=input.client_id,
                client_secret=input.client_secret,
                site_url=input.site_url,
            ),
        )

    @strawberry.mutation(
        description="Connect with a site API token (email + token) (ADMIN); credentials are "
        "verified first, then the first sync starts."
    )
    async def connect_confluence_api_token(
        self,
        info: strawberry.Info[Context, Any],
        input: Annotated[ConnectApiTokenInput, strawberry.argument(description="The token.")],
    ) -> IntegrationPayload:
        return await _integration_payload(
            info,
            lambda: info.context.services.integrations.connect_api_token(
                principal_of(info),
                purpose=models.Purpose(wire(input.purpose)),
                domain=input.domain,
                email=input.email,
                api_token=input.api_token,
                confirm_credentials=input.confirm_credentials,
            ),
        )

    @strawberry.mutation(
        description="Attach an Atlassian organization admin API key to the ACCESS_REVIEW "
        "integration (ADMIN)."
    )
    async def set_atlassian_admin_key(
        self,
        info: strawberry.Info[Context, Any],
        input: Annotated[SetAtlassianAdminKeyInput, strawberry.argument(description="The key.")],
    ) -> IntegrationPayload:
        return await _integration_payload(
            info,
            lambda: info.context.services.integrations.set_admin_key(
                principal_of(info),
                integration_id=str(input.integration_id),
                org_id=input.org_id,
                api_key=input.api_key,
            ),
        )

    @strawberry.mutation(
        description="Change the sync interval, the POLICY CQL or the ACCESS_REVIEW admin "
        "group names (ADMIN)."
    )
    async def update_integration_settings(
        self,
        info: strawberry.Info[Context, Any],
        input: Annotated[
            UpdateIntegrationSettingsInput, strawberry.argument(description="The changes.")
        ],
    ) -> IntegrationPayload:
        change = SettingsChange(
            sync_interval_minutes=input.sync_interval_minutes,
            cql=input.cql,
            admin_groups=input.admin_groups,
        )
        return await _integration_payload(
            info,
            lambda: update_settings(
                info.context.services.integrations,
                principal_of(info),
                str(input.integration_id),
                change,
            ),
        )

    @strawberry.mutation(
        description="Detach the Atlassian organization admin API key (ADMIN): MFA and last "
        "activity are no longer collected. Starts a sync (or one follow-up of the running "
        "sync)."
    )
    async def remove_atlassian_admin_key(
        self,
        info: strawberry.Info[Context, Any],
        integration_id: Annotated[
            strawberry.ID, strawberry.argument(description="The ACCESS_REVIEW integration.")
        ],
    ) -> IntegrationPayload:
        return await _integration_payload(
            info,
            lambda: info.context.services.integrations.remove_admin_key(
                principal_of(info), str(integration_id)
            ),
        )

    @strawberry.mutation(
        description="Disconnect (ADMIN): delete the credential and stop syncing; collected "
        "data and evidence are kept."
    )
    async def disconnect_integration(
        self,
        info: strawberry.Info[Context, Any],
        id: Annotated[strawberry.ID, strawberry.argument(description="The integration id.")],
    ) -> IntegrationPayload:
        return await _integration_payload(
            info,
            lambda: info.context.services.integrations.disconnect(principal_of(info), str(id)),
        )


@strawberry.type(description="Integration changes of the caller's organization.")
class IntegrationSubscription:
    @strawberry.subscription(
        description="The integration whenever its status or details change, including "
        "`lastSyncAt` / `currentSnapshotAt` after a successful sync (every role)."
    )
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
