"""Connecting Confluence (API token, client credentials, admin key), listing, disconnecting."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncGenerator, Mapping
from dataclasses import KW_ONLY, dataclass
from typing import Any, Protocol

from services.api_keys import require_role
from services.atlassian.models import OAuthApp
from services.clock import utcnow_ms
from services.confluence.auth import BasicAuth, BearerAuth, NoAuth
from services.confluence.errors import ConfluenceAuthError, ConfluenceError
from services.confluence.http import HttpError
from services.confluence.models import CurrentUser
from services.errors import AlreadyExists, NotFound, ValidationFailed
from services.integrations.changes import (
    IntegrationChanges,
    IntegrationUpdates,
    OnIntegrationChange,
    ignore_integration_change,
)
from services.integrations.clients import ClientFactory, atlassian_errors
from services.integrations.errors import (
    AlreadyConnected,
    ConfirmationRequired,
    InvalidCredentials,
    InvalidState,
)
from services.integrations.models import (
    AuthMethod,
    ConfluenceSite,
    Integration,
    IntegrationStatus,
    Purpose,
)
from services.integrations.sites import site_base_url
from services.integrations.vault import (
    ADMIN_API_KEY,
    API_TOKEN,
    CLIENT_CREDENTIALS,
    CredentialVault,
)
from services.models import Principal, Role

log = logging.getLogger(__name__)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_MAX_SECRET = 4096


def required(value: str, field: str, what: str) -> str:
    """``value`` stripped, or a ``VALIDATION_FAILED`` naming ``field``."""
    value = value.strip()
    if not value:
        raise ValidationFailed(f"{what} is required", field=[field])
    if len(value) > _MAX_SECRET:
        raise ValidationFailed(f"{what} is too long", field=[field])
    return value


def header_safe(value: str, field: str, what: str) -> str:
    """Like ``required``, for values sent in HTTP headers: printable ASCII, no spaces."""
    value = required(value, field, what)
    if not all("!" <= c <= "~" for c in value):
        raise ValidationFailed(
            f"{what} may only contain printable ASCII characters without spaces", field=[field]
        )
    return value


class IntegrationsRepo(IntegrationUpdates, Protocol):
    """The ``IntegrationRepository`` methods ``IntegrationService`` and ``OAuthFlow`` call
    (``update`` from ``IntegrationUpdates``)."""

    async def create(
        self,
        *,
        organization_id: str,
        purpose: Purpose,
        auth_method: AuthMethod,
        status: IntegrationStatus,
        sync_interval_minutes: int,
        **fields: Any,
    ) -> Integration: ...
    async def delete(self, *, integration_id: str) -> None: ...
    async def get(self, *, organization_id: str, integration_id: str) -> Integration | None: ...
    async def get_live_for_purpose(
        self, *, organization_id: str, purpose: Purpose
    ) -> Integration | None: ...
    async def list_by_organization(self, *, organization_id: str) -> list[Integration]: ...


@dataclass(eq=False, repr=False)
class IntegrationService:
    """Integrations of an organization: connect, inspect, disconnect.

    ``changes`` announces every change (and runs its reaction); ``on_connected`` runs
    when an integration becomes CONNECTED (the first sync), ``on_collection_changed``
    when what a sync collects changed (the admin key: a sync, or a follow-up)."""

    vault: CredentialVault
    clients: ClientFactory
    changes: IntegrationChanges
    _: KW_ONLY
    integrations: IntegrationsRepo
    on_connected: OnIntegrationChange = ignore_integration_change
    on_collection_changed: OnIntegrationChange = ignore_integration_change
    sync_interval_minutes: int = 360

    async def list(self, principal: Principal) -> list[Integration]:
        """The caller's organization's integrations."""
        return await self.integrations.list_by_organization(
            organization_id=principal.organization_id
        )

    async def get(self, principal: Principal, integration_id: str) -> Integration | None:
        """One integration of the caller's organization."""
        return await self.integrations.get(
            organization_id=principal.organization_id, integration_id=integration_id
        )

    async def get_or_raise(self, principal: Principal, integration_id: str) -> Integration:
        """One integration of the caller's organization, or ``NOT_FOUND``."""
        integration = await self.get(principal, integration_id)
        if integration is None:
            raise NotFound(f"integration {integration_id} not found", field=["integrationId"])
        return integration

    async def connect_api_token(
        self,
        principal: Principal,
        *,
        purpose: Purpose,
        domain: str,
        email: str,
        api_token: str,
        confirm_credentials: bool,
    ) -> Integration:
        """Validate a site API token with Basic auth, then store it (SPEC §2.3)."""
        require_role(principal, Role.ADMIN)
        if not confirm_credentials:
            raise ConfirmationRequired(
                "confirm that you have the credentials", field=["confirmCredentials"]
            )
        site_url = site_base_url(
            domain, field="domain", allow_insecure=self.clients.config.allow_insecure_urls
        )
        email = required(email, "email", "email")
        if not _EMAIL.match(email):
            raise ValidationFailed("email is not a valid address", field=["email"])
        api_token = header_safe(api_token, "apiToken", "API token")
        await self._ensure_purpose_free(principal, purpose)
        async with atlassian_errors("email and API token"):
            found = await self._validate_api_token(site_url, BasicAuth(email, api_token))
        return await self._create_connected(
            principal,
            purpose,
            AuthMethod.API_TOKEN,
            ConfluenceSite(url=site_url, cloud_id=found.cloud_id, name=_site_name(site_url)),
            {API_TOKEN: {"email": email, "api_token": api_token, "scoped": found.scoped}},
            connected_as=found.user.display_name,
        )

    async def _validate_api_token(self, site_url: str, auth: BasicAuth) -> _ApiTokenSite:
        """Classic tokens work on the site host; scoped ones only through the gateway with
        the site's cloud id, the site answering 401 (confluence-api.md §4): try the site,
        then on a 401 the gateway, before refusing."""
        try:
            user = await self.clients.confluence(site_url, auth).current_user()
        except ConfluenceAuthError:
            pass
        else:
            return _ApiTokenSite(user, await self._cloud_id_or_none(site_url), scoped=False)
        cloud_id = await self.clients.confluence(site_url, NoAuth()).tenant_info(site_url)
        gateway = self.clients.config.cloud_base(cloud_id)
        try:
            user = await self.clients.confluence(gateway, auth).current_user()
        except ConfluenceAuthError:
            raise InvalidCredentials(
                f"Atlassian refused the email and API token both on the site ({site_url}) "
                f"and through the API gateway ({gateway}, for scoped API tokens): check "
                "the email and the token, and that the account can read Confluence."
            ) from None
        return _ApiTokenSite(user, cloud_id, scoped=True)

    async def _cloud_id_or_none(self, site_url: str) -> str | None:
        """The site's cloud id (the Admin API's last activity is per site), if it answers."""
        try:
            return await self.clients.confluence(site_url, NoAuth()).tenant_info(site_url)
        except (ConfluenceError, HttpError, ValueError):
            log.info("no cloud id from %s/_edge/tenant_info; a sync will ask again", site_url)
            return None

    async def connect_client_credentials(
        self,
        principal: Principal,
        *,
        purpose: Purpose,
        client_id: str,
        client_secret: str,
        site_url: str,
    ) -> Integration:
        """Obtain a service-account token, resolve the cloud id, read the current user."""
        require_role(principal, Role.ADMIN)
        client_id = header_safe(client_id, "clientId", "client id")
        client_secret = header_safe(client_secret, "clientSecret", "client secret")
        base = site_base_url(
            site_url, field="siteUrl", allow_insecure=self.clients.config.allow_insecure_urls
        )
        await self._ensure_purpose_free(principal, purpose)
        async with atlassian_errors("client id and secret"):
            token = await self.clients.oauth().client_credentials(client_id, client_secret)
        async with atlassian_errors("site URL"):
            cloud_id = await self.clients.confluence(base, NoAuth()).tenant_info(base)
        async with atlassian_errors("client credentials"):
            client = self.clients.confluence(
                self.clients.config.cloud_base(cloud_id), BearerAuth(token.access_token)
            )
            user = await client.current_user()
        app = OAuthApp(client_id, client_secret)
        return await self._create_connected(
            principal,
            purpose,
            AuthMethod.CLIENT_CREDENTIALS,
            ConfluenceSite(url=base, cloud_id=cloud_id, name=_site_name(base)),
            {CLIENT_CREDENTIALS: {"client_id": app.client_id, "client_secret": app.client_secret}},
            connected_as=user.display_name,
            granted_scopes=token.scopes,
        )

    async def set_admin_key(
        self, principal: Principal, *, integration_id: str, org_id: str, api_key: str
    ) -> Integration:
        """Attach an Atlassian organization admin key (MFA, authoritative status)."""
        require_role(principal, Role.ADMIN)
        integration = await self.get_or_raise(principal, integration_id)
        if integration.purpose is not Purpose.ACCESS_REVIEW:
            raise ValidationFailed(
                "an admin key belongs to the ACCESS_REVIEW integration", field=["integrationId"]
            )
        if integration.status is IntegrationStatus.DISCONNECTED:
            raise InvalidState("the integration is disconnected", field=["integrationId"])
        org_id = header_safe(org_id, "orgId", "Atlassian organization id")
        api_key = header_safe(api_key, "apiKey", "admin API key")
        async with atlassian_errors("organization id and admin API key"):
            await self.clients.admin(api_key).search_directory_users(org_id, limit=1)
        await self.vault.store(
            integration.organization_id, integration.id, {ADMIN_API_KEY: {"api_key": api_key}}
        )
        updated = await self.integrations.update(
            integration_id=integration.id, has_admin_key=True, admin_org_id=org_id
        )
        return await self._collection_changed(await self.publish_change(updated or integration))

    async def remove_admin_key(self, principal: Principal, integration_id: str) -> Integration:
        """Detach the organization admin key (MFA and last activity are no longer collected)."""
        require_role(principal, Role.ADMIN)
        integration = await self.get_or_raise(principal, integration_id)
        if not integration.has_admin_key:
            return integration
        await self.vault.remove(integration.id, ADMIN_API_KEY)
        updated = await self.integrations.update(
            integration_id=integration.id, has_admin_key=False, admin_org_id=None
        )
        return await self._collection_changed(await self.publish_change(updated or integration))

    async def _collection_changed(self, integration: Integration) -> Integration:
        """What a sync collects changed: a sync now, or one follow-up of the running one."""
        try:
            await self.on_collection_changed(integration)
        except Exception:
            log.exception("sync after the admin key change could not be queued")
        return integration

    async def disconnect(self, principal: Principal, integration_id: str) -> Integration:
        """Stop syncing and delete the credential; data and evidence are kept.

        DISCONNECTED first: a run that starts after finds it not connected (not a missing
        credential to reconnect), and a running one stops at its next lease heartbeat
        (``services.sync.lease``) without an alert."""
        require_role(principal, Role.ADMIN)
        integration = await self.get_or_raise(principal, integration_id)
        updated = await self.integrations.update(
            integration_id=integration.id,
            status=IntegrationStatus.DISCONNECTED,
            status_message="Disconnected; collected data and evidence are kept.",
            has_admin_key=False,
        )
        await self.vault.delete(integration.id)
        return await self.publish_change(updated or integration)

    async def apply_settings(
        self, integration: Integration, fields: Mapping[str, Any]
    ) -> Integration:
        """Store already validated settings of ``integration`` and publish the change."""
        updated = await self.integrations.update(integration_id=integration.id, **fields)
        return await self.publish_change(updated or integration)

    async def _ensure_purpose_free(self, principal: Principal, purpose: Purpose) -> None:
        existing = await self.integrations.get_live_for_purpose(
            organization_id=principal.organization_id, purpose=purpose
        )
        if existing is not None:
            raise AlreadyConnected(
                f"{purpose.value} is already connected ({existing.status.value}); "
                "disconnect it first",
                field=["purpose"],
            )

    async def _create_connected(
        self,
        principal: Principal,
        purpose: Purpose,
        method: AuthMethod,
        site: ConfluenceSite,
        secrets: Mapping[str, Mapping[str, Any]],
        **fields: Any,
    ) -> Integration:
        try:
            integration = await self.integrations.create(
                organization_id=principal.organization_id,
                purpose=purpose,
                auth_method=method,
                status=IntegrationStatus.CONNECTED,
                sync_interval_minutes=self.sync_interval_minutes,
                site=site,
                connected_at=utcnow_ms(),
                connected_by=principal.actor_id,
                **fields,
            )
        except AlreadyExists:
            raise AlreadyConnected(
                f"{purpose.value} was connected meanwhile; disconnect it first", field=["purpose"]
            ) from None
        try:
            await self.vault.store(principal.organization_id, integration.id, secrets)
        except BaseException:
            await self.integrations.delete(integration_id=integration.id)
            raise
        await self.publish_change(integration)
        await self.connected(integration)
        return integration

    async def connected(self, integration: Integration) -> None:
        """Run the after-connect reaction (the first sync); its failure is logged."""
        try:
            await self.on_connected(integration)
        except Exception:
            log.exception("first sync could not be requested for %s", integration.id)

    async def watch(
        self, principal: Principal, *, initial: bool = False
    ) -> AsyncGenerator[Integration, None]:
        """Every change of the organization's integrations from now on, as it is now.
        ``initial``: first, once subscribed, every integration that is not DISCONNECTED."""
        events = await self.changes.subscribe_now(principal.organization_id)
        try:
            if initial:
                for integration in await self.list(principal):
                    if integration.status is not IntegrationStatus.DISCONNECTED:
                        yield integration
            async for event in events:
                found = await self.get(principal, str(event["integration_id"]))
                if found is not None:
                    yield found
        finally:
            await events.aclose()

    async def publish_change(self, integration: Integration) -> Integration:
        """Tell ``integrationStatusChanged`` subscribers and the reactions; returns it."""
        return await self.changes.publish(integration)


@dataclass(frozen=True, slots=True)
class _ApiTokenSite:
    """What validating an API token found: who it is, the cloud id, which base worked."""

    user: CurrentUser
    cloud_id: str | None
    scoped: bool


def _site_name(url: str) -> str:
    """``https://acme.atlassian.net`` → ``acme`` (a simulator's ``…/site/acme`` too)."""
    host, _, path = url.split("://", 1)[-1].partition("/")
    return path.rsplit("/", 1)[-1] if path else host.removesuffix(".atlassian.net")
