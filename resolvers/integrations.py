"""Integrations: queries, connect mutations and ``integrationStatusChanged``."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Annotated

import strawberry

from resolvers.context import Info, principal_of
from resolvers.errors import mutation
from resolvers.integration_types import (
    ConnectApiTokenInput,
    ConnectClientCredentialsInput,
    Integration,
    IntegrationPayload,
    SelectConfluenceSiteInput,
    SetAtlassianAdminKeyInput,
    StartConfluenceOAuthInput,
    StartConfluenceOAuthPayload,
    UpdateIntegrationSettingsInput,
)
from resolvers.mapping import mapped
from resolvers.relay import INITIAL
from services.integrations.models import IntegrationStatus, Purpose
from services.integrations.settings import SettingsChange, update_settings

_IntegrationId = Annotated[strawberry.ID, strawberry.argument(description="The integration id.")]


@strawberry.type(description="Integrations of the caller's organization.")
class IntegrationQuery:
    @strawberry.field(
        description="The organization's integrations, newest first (every role). DISCONNECTED "
        "ones are left out unless `status` asks for them."
    )
    async def integrations(
        self,
        info: Info,
        status: Annotated[
            list[IntegrationStatus] | None,
            strawberry.argument(
                description="Only integrations in one of these statuses; default: every "
                "status except DISCONNECTED."
            ),
        ] = None,
        purpose: Annotated[
            Purpose | None,
            strawberry.argument(description="Only integrations for this purpose."),
        ] = None,
    ) -> list[Integration]:
        found = await info.context.services.integrations.list(principal_of(info))
        wanted = set(status) if status is not None else _LISTED_BY_DEFAULT
        return [
            Integration.from_domain(i)
            for i in found
            if i.status in wanted and (purpose is None or i.purpose is purpose)
        ]

    @strawberry.field(
        description="One integration of the organization, or null when there is none with "
        "this id (every role)."
    )
    async def integration(
        self,
        info: Info,
        id: _IntegrationId,
    ) -> Integration | None:
        found = await info.context.services.integrations.get(principal_of(info), str(id))
        return Integration.from_domain(found) if found else None


_LISTED_BY_DEFAULT = frozenset(
    s for s in IntegrationStatus if s is not IntegrationStatus.DISCONNECTED
)


@strawberry.type(description="Connecting and disconnecting Confluence (ADMIN).")
class IntegrationMutation:
    @mutation(
        "Start OAuth 2.0 (3LO) (ADMIN): creates a PENDING_AUTHORIZATION "
        "integration and returns Atlassian's consent URL to navigate to.",
        name="startConfluenceOAuth",
    )
    async def start_confluence_oauth(
        self,
        info: Info,
        input: Annotated[
            StartConfluenceOAuthInput, strawberry.argument(description="Purpose and consent.")
        ],
    ) -> StartConfluenceOAuthPayload:
        integration, url = await info.context.services.oauth.start(
            principal_of(info),
            purpose=input.purpose,
            confirm_admin_access=input.confirm_admin_access,
        )
        return StartConfluenceOAuthPayload(
            integration=Integration.from_domain(integration), authorization_url=url
        )

    @mutation(
        "Finish OAuth when several sites were authorized (ADMIN): the integration "
        "becomes CONNECTED and its first sync starts."
    )
    async def select_confluence_site(
        self,
        info: Info,
        input: Annotated[
            SelectConfluenceSiteInput, strawberry.argument(description="The site to use.")
        ],
    ) -> IntegrationPayload:
        integration = await info.context.services.oauth.select_site(
            principal_of(info),
            integration_id=str(input.integration_id),
            cloud_id=input.cloud_id,
        )
        return IntegrationPayload.of(integration)

    @mutation(
        "Connect with an Atlassian service account (ADMIN); credentials are "
        "verified first, then the first sync starts."
    )
    async def connect_confluence_client_credentials(
        self,
        info: Info,
        input: Annotated[
            ConnectClientCredentialsInput, strawberry.argument(description="The credentials.")
        ],
    ) -> IntegrationPayload:
        integration = await info.context.services.integrations.connect_client_credentials(
            principal_of(info),
            purpose=input.purpose,
            client_id=input.client_id,
            client_secret=input.client_secret,
            site_url=input.site_url,
        )
        return IntegrationPayload.of(integration)

    @mutation(
        "Connect with a site API token (email + token) (ADMIN); credentials are "
        "verified first, then the first sync starts."
    )
    async def connect_confluence_api_token(
        self,
        info: Info,
        input: Annotated[ConnectApiTokenInput, strawberry.argument(description="The token.")],
    ) -> IntegrationPayload:
        integration = await info.context.services.integrations.connect_api_token(
            principal_of(info),
            purpose=input.purpose,
            domain=input.domain,
            email=input.email,
            api_token=input.api_token,
            confirm_credentials=input.confirm_credentials,
        )
        return IntegrationPayload.of(integration)

    @mutation(
        "Attach an Atlassian organization admin API key to the ACCESS_REVIEW integration (ADMIN)."
    )
    async def set_atlassian_admin_key(
        self,
        info: Info,
        input: Annotated[SetAtlassianAdminKeyInput, strawberry.argument(description="The key.")],
    ) -> IntegrationPayload:
        integration = await info.context.services.integrations.set_admin_key(
            principal_of(info),
            integration_id=str(input.integration_id),
            org_id=input.org_id,
            api_key=input.api_key,
        )
        return IntegrationPayload.of(integration)

    @mutation(
        "Change the sync interval, the POLICY CQL or the ACCESS_REVIEW admin group names (ADMIN)."
    )
    async def update_integration_settings(
        self,
        info: Info,
        input: Annotated[
            UpdateIntegrationSettingsInput, strawberry.argument(description="The changes.")
        ],
    ) -> IntegrationPayload:
        integration = await update_settings(
            info.context.services.integrations,
            principal_of(info),
            str(input.integration_id),
            mapped(SettingsChange, input),
        )
        return IntegrationPayload.of(integration)

    @mutation(
        "Detach the Atlassian organization admin API key (ADMIN): MFA and last "
        "activity are no longer collected. Starts a sync (or one follow-up of the running "
        "sync)."
    )
    async def remove_atlassian_admin_key(
        self,
        info: Info,
        integration_id: Annotated[
            strawberry.ID, strawberry.argument(description="The ACCESS_REVIEW integration.")
        ],
    ) -> IntegrationPayload:
        integration = await info.context.services.integrations.remove_admin_key(
            principal_of(info), str(integration_id)
        )
        return IntegrationPayload.of(integration)

    @mutation(
        "Disconnect (ADMIN): stop syncing and delete the credential; collected data and "
        "evidence are kept. A sync running now stops within a third of the sync lease "
        "(20 s by default) and keeps nothing; it ends FAILED without an alert."
    )
    async def disconnect_integration(
        self,
        info: Info,
        id: _IntegrationId,
    ) -> IntegrationPayload:
        integration = await info.context.services.integrations.disconnect(
            principal_of(info), str(id)
        )
        return IntegrationPayload.of(integration)


@strawberry.type(description="Integration changes of the caller's organization.")
class IntegrationSubscription:
    @strawberry.subscription(
        description="The integration whenever its status or details change, including "
        "`lastSyncAt` / `currentSnapshotAt` after a successful sync (every role)."
    )
    async def integration_status_changed(
        self,
        info: Info,
        initial: Annotated[
            bool,
            strawberry.argument(
                description=INITIAL.format(what="every integration that is not DISCONNECTED")
            ),
        ] = False,
    ) -> AsyncGenerator[Integration, None]:
        integrations = info.context.services.integrations.watch(principal_of(info), initial=initial)
        async with aclosing(integrations):
            async for integration in integrations:
                yield Integration.from_domain(integration)
