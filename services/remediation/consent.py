"""Opting in to remediation's writes: what the connection needs, and the 3LO re-consent."""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import Protocol

from services.api_keys import require_confirmed_admin
from services.errors import Conflict, NotFound
from services.integrations.models import AuthMethod, Integration, Purpose
from services.integrations.oauth_flow import OAuthFlow
from services.models import Principal
from services.remediation.models import WRITE_SCOPE, WRITE_SCOPES


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


class RemediationsRepo(Protocol):
    """The ``RemediationRepository`` methods ``RemediationConsent`` calls."""

    async def clear_refusals(self, *, integration_id: str) -> None: ...


@dataclass(eq=False, repr=False)
class RemediationConsent:
    """``enableConfluenceRemediation``: ask for ``write:confluence-groups`` where it applies,
    and lift the blocks a refusal put on the connection's writes (the re-consent)."""

    flow: OAuthFlow
    _: KW_ONLY
    integrations: IntegrationsRepo
    remediations: RemediationsRepo | None = None

    async def enable(self, principal: Principal, confirm: bool) -> ConsentOutcome:
        """ADMIN, ``confirm: true``; OAuth: the consent URL; API token: nothing to grant."""
        require_confirmed_admin(
            principal, confirm, "confirm that Vigil may ask for write access to Confluence groups"
        )
        integration = await self.integrations.get_live_for_purpose(
            organization_id=principal.organization_id, purpose=Purpose.ACCESS_REVIEW
        )
        if integration is None:
            raise NotFound("connect Confluence for ACCESS_REVIEW first", field=["purpose"])
        if integration.auth_method is AuthMethod.CLIENT_CREDENTIALS and not _granted(integration):
            raise Conflict(
                f"client credentials get the scopes set on the OAuth app: add {WRITE_SCOPE} to "
                "the app in Atlassian's developer console, then reconnect",
                code="NOT_SUPPORTED",
            )
        if self.remediations is not None:  # the ADMIN says the cause is fixed: try again
            await self.remediations.clear_refusals(integration_id=integration.id)
        key = " Directory suspension uses the Admin API key." if integration.has_admin_key else ""
        if integration.auth_method is AuthMethod.API_TOKEN:
            message = (
                "A classic API token is not limited by scopes and a scoped one has the scopes "
                "it was created with (it needs write:group:confluence or write:confluence-"
                "groups): Atlassian allows the group removals when the connected account is a "
                "site admin. The next removal tries again; a refusal blocks the others once "
                "more." + key
            )
            return ConsentOutcome(integration, None, message)
        if _granted(integration):
            return ConsentOutcome(
                integration,
                None,
                "A write scope is already granted; the next group removal tries again." + key,
            )
        integration, url = await self.flow.start_upgrade(
            principal, integration_id=integration.id, extra_scopes=(WRITE_SCOPE,)
        )
        message = (
            f"Open the URL to grant {WRITE_SCOPE}; the connection keeps its current access "
            "until Atlassian's consent comes back." + key
        )
        return ConsentOutcome(integration, url, message)


def _granted(integration: Integration) -> bool:
    return any(scope in integration.granted_scopes for scope in WRITE_SCOPES)
