"""OAuth 2.0 (3LO): start, callback, site selection (SPEC §2.1)."""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass
from datetime import datetime, timedelta
from typing import Protocol

from services.api_keys import require_role
from services.clock import utcnow_ms
from services.confluence.auth import BearerAuth
from services.errors import AlreadyExists, DomainError, ValidationFailed
from services.integrations.clients import atlassian_errors
from services.integrations.errors import (
    AlreadyConnected,
    ConfirmationRequired,
    InvalidState,
    NotConfigured,
)
from services.integrations.models import (
    AuthMethod,
    ConfluenceSite,
    Integration,
    IntegrationStatus,
    OAuthState,
    Purpose,
)
from services.integrations.service import IntegrationService, IntegrationsRepo
from services.integrations.tokens import secret_to_tokens, tokens_to_secret
from services.integrations.vault import OAUTH_TOKENS
from services.models import Principal, Role

log = logging.getLogger(__name__)

SCOPES = (
    "offline_access",
    "read:confluence-user",
    "read:confluence-groups",
    "read:content-details:confluence",
    "read:user:confluence",
    "read:group:confluence",
    "read:space:confluence",
    "read:page:confluence",
)
STATE_TTL = timedelta(minutes=10)
_REUSABLE = (IntegrationStatus.PENDING_AUTHORIZATION, IntegrationStatus.NEEDS_REAUTH)


def hash_state(state: str) -> str:
    """States are stored hashed: a database reader cannot complete someone's flow."""
    return hashlib.sha256(state.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class CallbackOutcome:
    """What the callback did: the integration (when the state was genuine) and a status."""

    integration: Integration | None
    status: str
    message: str


class OAuthStatesRepo(Protocol):
    """The ``OAuthStateRepository`` methods ``OAuthFlow`` calls."""

    async def consume(self, *, state_hash: str, now: datetime) -> OAuthState | None: ...
    async def create(self, *, state_hash: str, bound_to: OAuthState) -> None: ...


@dataclass(eq=False, repr=False)
class OAuthFlow:
    """The browser round-trip through Atlassian's consent screen."""

    service: IntegrationService
    redirect_uri: str
    _: KW_ONLY
    integrations: IntegrationsRepo
    oauth_states: OAuthStatesRepo

    async def start(
        self, principal: Principal, *, purpose: Purpose, confirm_admin_access: bool
    ) -> tuple[Integration, str]:
        """Create (or reuse) a pending integration and return Atlassian's authorize URL."""
        require_role(principal, Role.ADMIN)
        if not confirm_admin_access:
            raise ConfirmationRequired(
                "confirm that you have admin access to the Confluence site",
                field=["confirmAdminAccess"],
            )
        if not self.service.clients.config.oauth_configured:
            raise NotConfigured(
                "OAuth is not configured on this server (VIGIL_OAUTH_CLIENT_ID/SECRET); "
                "use an API token or client credentials instead"
            )
        integration = await self._pending_integration(principal, purpose)
        return integration, await self._consent_url(integration, SCOPES)

    async def complete(
        self, *, state: str | None, code: str | None, error: str | None
    ) -> CallbackOutcome:
        """Handle Atlassian's redirect; a bad ``state`` changes nothing."""
        if not state or len(state) > 512:
            return CallbackOutcome(None, "rejected", "missing authorization state")
        bound = await self.oauth_states.consume(state_hash=hash_state(state), now=utcnow_ms())
        integration = bound and await self.integrations.get(
            organization_id=bound.organization_id, integration_id=bound.integration_id
        )
        upgrading = bool(
            bound
            and integration
            and bound.upgrade
            and integration.status is IntegrationStatus.CONNECTED
        )
        if not integration or (integration.status not in _REUSABLE and not upgrading):
            return CallbackOutcome(None, "rejected", "unknown, expired or already used state")
        if upgrading:
            return await self._upgrade(integration, code, error)
        if error or not code:
            declined = error == "access_denied"
            message = (
                "Access was declined on Atlassian's consent screen."
                if declined
                else f"Atlassian reported an authorization error ({(error or 'no code')[:60]})."
            )
            return await self._fail(integration, "denied" if declined else "error", message)
        try:
            return await self._exchange(integration, code)
        except DomainError as exc:
            return await self._fail(integration, "error", exc.message)
        except Exception:  # the browser must always get an answer
            log.exception("OAuth callback failed for %s", integration.id)
            return await self._fail(integration, "error", "Connecting failed; try again.")

    async def start_upgrade(
        self, principal: Principal, *, integration_id: str, extra_scopes: Sequence[str]
    ) -> tuple[Integration, str]:
        """Send the admin through 3LO again for ``extra_scopes`` on a CONNECTED integration.

        The integration keeps working on its current grant meanwhile; the callback only
        replaces the tokens and ``grantedScopes`` when Atlassian granted the connected site.
        """
        require_role(principal, Role.ADMIN)
        if not self.service.clients.config.oauth_configured:
            raise NotConfigured("OAuth is not configured on this server")
        integration = await self.service.get_or_raise(principal, integration_id)
        if (
            integration.auth_method is not AuthMethod.OAUTH
            or integration.status is not IntegrationStatus.CONNECTED
        ):
            raise InvalidState(
                "only a CONNECTED OAuth (3LO) integration can be granted more scopes",
                field=["integrationId"],
            )
        scopes = tuple(dict.fromkeys((*SCOPES, *extra_scopes)))
        return integration, await self._consent_url(integration, scopes, upgrade=True)

    async def _upgrade(
        self, integration: Integration, code: str | None, error: str | None
    ) -> CallbackOutcome:
        """The callback of ``start_upgrade``: a refusal changes nothing (still CONNECTED)."""
        if error or not code:
            return CallbackOutcome(integration, "denied", "No additional access was granted.")
        oauth = self.service.clients.oauth()
        try:
            async with atlassian_errors("authorization"):
                tokens = await oauth.exchange_code(code, self.redirect_uri)
                sites = await oauth.accessible_resources(tokens.access_token)
        except DomainError as exc:
            return CallbackOutcome(integration, "error", exc.message)
        cloud_id = integration.site.cloud_id if integration.site else None
        if cloud_id is None or cloud_id not in {s.cloud_id for s in sites}:
            message = "The new authorization does not cover the connected site; nothing changed."
            return CallbackOutcome(integration, "error", message)
        await self.service.vault.store(
            integration.organization_id, integration.id, {OAUTH_TOKENS: tokens_to_secret(tokens)}
        )
        updated = await self.integrations.update(
            integration_id=integration.id, granted_scopes=tokens.scopes
        )
        assert updated is not None
        await self.service.publish_change(updated)
        return CallbackOutcome(updated, "connected", "additional access granted")

    async def select_site(
        self, principal: Principal, *, integration_id: str, cloud_id: str
    ) -> Integration:
        """Finish a multi-site authorization by choosing the site."""
        require_role(principal, Role.ADMIN)
        integration = await self.service.get_or_raise(principal, integration_id)
        if integration.status is not IntegrationStatus.SITE_SELECTION_REQUIRED:
            raise InvalidState(
                f"the integration is {integration.status.value}, not waiting for a site",
                field=["integrationId"],
            )
        site = next((s for s in integration.available_sites if s.cloud_id == cloud_id), None)
        if site is None:
            raise ValidationFailed("cloudId is not one of the authorized sites", field=["cloudId"])
        return await self._connect_site(integration, site)

    async def _consent_url(
        self, integration: Integration, scopes: Sequence[str], *, upgrade: bool = False
    ) -> str:
        """Atlassian's consent screen for ``integration`` with ``scopes``, behind a new
        single-use state (an ``upgrade`` one grants more scopes to a connected integration)."""
        state = secrets.token_urlsafe(32)
        await self.oauth_states.create(
            state_hash=hash_state(state),
            bound_to=OAuthState(
                integration.organization_id,
                integration.id,
                utcnow_ms() + STATE_TTL,
                upgrade=upgrade,
            ),
        )
        return self.service.clients.oauth().authorization_url(self.redirect_uri, scopes, state)

    async def _pending_integration(self, principal: Principal, purpose: Purpose) -> Integration:
        existing = await self.integrations.get_live_for_purpose(
            organization_id=principal.organization_id, purpose=purpose
        )
        if existing is not None:
            if existing.status in _REUSABLE and existing.auth_method is AuthMethod.OAUTH:
                return existing
            raise AlreadyConnected(
                f"{purpose.value} is already connected ({existing.status.value}); "
                "disconnect it first",
                field=["purpose"],
            )
        try:
            integration = await self.integrations.create(
                organization_id=principal.organization_id,
                purpose=purpose,
                auth_method=AuthMethod.OAUTH,
                status=IntegrationStatus.PENDING_AUTHORIZATION,
                sync_interval_minutes=self.service.sync_interval_minutes,
                connected_by=principal.actor_id,
            )
        except AlreadyExists:
            raise AlreadyConnected(
                f"{purpose.value} was connected meanwhile", field=["purpose"]
            ) from None
        return await self.service.publish_change(integration)

    async def _exchange(self, integration: Integration, code: str) -> CallbackOutcome:
        oauth = self.service.clients.oauth()
        async with atlassian_errors("authorization"):
            tokens = await oauth.exchange_code(code, self.redirect_uri)
            sites = await oauth.accessible_resources(tokens.access_token)
        if not sites:
            return await self._fail(
                integration, "error", "The authorizing account cannot reach any Confluence site."
            )
        await self.service.vault.store(
            integration.organization_id, integration.id, {OAUTH_TOKENS: tokens_to_secret(tokens)}
        )
        available = tuple(
            ConfluenceSite(url=s.url, cloud_id=s.cloud_id, name=s.name) for s in sites
        )
        await self.integrations.update(
            integration_id=integration.id,
            granted_scopes=tokens.scopes,
            available_sites=available,
        )
        if len(available) == 1:
            connected = await self._connect_site(integration, available[0])
            return CallbackOutcome(connected, connected.status.value.lower(), "connected")
        updated = await self.integrations.update(
            integration_id=integration.id,
            status=IntegrationStatus.SITE_SELECTION_REQUIRED,
            status_message="Several Confluence sites were authorized: choose one.",
        )
        assert updated is not None
        await self.service.publish_change(updated)
        return CallbackOutcome(updated, "site_selection_required", "choose a site")

    async def _connect_site(self, integration: Integration, site: ConfluenceSite) -> Integration:
        secret = await self.service.vault.load(
            integration.organization_id, integration.id, OAUTH_TOKENS
        )
        if secret is None or site.cloud_id is None:
            raise InvalidState("the authorization is incomplete: start again")
        tokens = secret_to_tokens(secret.values)
        client = self.service.clients.confluence(
            self.service.clients.config.cloud_base(site.cloud_id), BearerAuth(tokens.access_token)
        )
        async with atlassian_errors("authorization for this site"):
            user = await client.current_user()
        updated = await self.integrations.update(
            integration_id=integration.id,
            status=IntegrationStatus.CONNECTED,
            status_message=None,
            site=site,
            connected_at=utcnow_ms(),
            connected_as=user.display_name,
        )
        assert updated is not None
        await self.service.publish_change(updated)
        await self.service.connected(updated)
        return updated

    async def _fail(self, integration: Integration, status: str, message: str) -> CallbackOutcome:
        updated = await self.integrations.update(
            integration_id=integration.id,
            status=IntegrationStatus.ERROR,
            status_message=message,
        )
        if updated is not None:
            await self.service.vault.delete(integration.id)
            await self.service.publish_change(updated)
        return CallbackOutcome(updated, status, message)
