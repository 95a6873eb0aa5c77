"""Opting in to remediation's writes: what the connection needs, and the 3LO re-consent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from services.api_keys import require_role
from services.errors import Conflict, NotFound, ValidationFailed
from services.integrations.models import AuthMethod, Integration, Purpose
from services.integrations.oauth_flow import OAuthFlow
from services.models import Principal, Role
from services.remediation.models import WRITE_SCOPE


@dataclass(frozen=True, slots=True)
class ConsentOutcome:
    """The integration, Atlassian's consent URL when one is needed, and what it means."""

    integration: Integration
    authorization_url: str | None
    message: str


class IntegrationsRepo(Protocol):
    """The ``IntegrationRepository`` methods ``RemediationConsent`` calls."""

    async def get_live_for_purpose(
        self, *, organization_id: str, purpose: Purpose
    ) -> Integration | None: ...


class RemediationConsent:
    """``enableConfluenceRemediation``: ask for ``write:confluence-groups`` where it applies."""

    def __init__(self, flow: OAuthFlow, *, integrations: IntegrationsRepo) -> None:
        self._integrations = integrations
        self._flow = flow

    async def enable(self, principal: Principal, confirm: bool) -> ConsentOutcome:
        """ADMIN, ``confirm: true``; OAuth: the consent URL; API token: nothing to grant."""
        require_role(principal, Role.ADMIN)
        if not confirm:
            raise ValidationFailed(
                "confirm that Vigil may ask for write access to Confluence groups",
                field=["confirm"],
                code="CONFIRMATION_REQUIRED",
            )
        integration = await self._integrations.get_live_for_purpose(
            organization_id=principal.organization_id, purpose=Purpose.ACCESS_REVIEW
        )
        if integration is None:
            raise NotFound("connect Confluence for ACCESS_REVIEW first", field=["purpose"])
        key = " Directory suspension uses the Admin API key." if integration.has_admin_key else ""
        if integration.auth_method is AuthMethod.API_TOKEN:
            message = (
                "An API token is not limited by scopes: Atlassian allows the group removals "
                "when the connected account is a site admin (else each call answers 403)." + key
            )
            return ConsentOutcome(integration, None, message)
        if integration.auth_method is AuthMethod.CLIENT_CREDENTIALS:
            raise Conflict(
                f"client credentials get the scopes set on the OAuth app: add {WRITE_SCOPE} to "
                "the app in Atlassian's developer console, then reconnect",
                code="NOT_SUPPORTED",
            )
        if WRITE_SCOPE in integration.granted_scopes:
            return ConsentOutcome(integration, None, f"{WRITE_SCOPE} is already granted." + key)
        integration, url = await self._flow.start_upgrade(
            principal, integration_id=integration.id, extra_scopes=(WRITE_SCOPE,)
        )
        message = (
            f"Open the URL to grant {WRITE_SCOPE}; the connection keeps its current access "
            "until Atlassian's consent comes back." + key
        )
        return ConsentOutcome(integration, url, message)
