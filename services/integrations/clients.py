"""Building authenticated Confluence/Atlassian clients for an integration."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from services.atlassian.admin import AdminClient
from services.atlassian.errors import (
    InvalidClient,
    InvalidGrant,
    InvalidToken,
    OAuthError,
    OAuthUnavailable,
)
from services.atlassian.models import OAuthApp
from services.atlassian.oauth import AtlassianOAuth
from services.atlassian.token_providers import ClientCredentialsTokenProvider
from services.confluence.auth import BasicAuth, ConfluenceAuth, TokenProviderAuth
from services.confluence.client import ConfluenceClient
from services.confluence.errors import (
    ConfluenceAuthError,
    ConfluenceError,
    ConfluenceForbidden,
    ConfluenceNotFound,
)
from services.confluence.http import HttpError, HttpSession
from services.confluence.retry import RetryPolicy
from services.integrations.errors import ConfluenceUnavailable, InvalidCredentials
from services.integrations.models import AuthMethod, Integration
from services.integrations.tokens import (
    OnReauthNeeded,
    RefreshLockRepo,
    RefreshLocks,
    StoredOAuthTokenProvider,
)
from services.integrations.vault import (
    ADMIN_API_KEY,
    API_TOKEN,
    CLIENT_CREDENTIALS,
    CredentialVault,
)

# Validation must answer a person waiting on a form: few, short retries.
VALIDATION_POLICY = RetryPolicy(max_attempts=2, base_delay=0.2, max_delay=1.0, max_pause=2.0)


@dataclass(frozen=True, slots=True)
class AtlassianConfig:
    """Where Atlassian lives (or the simulator) and Vigil's OAuth app."""

    auth_url: str
    api_url: str
    redirect_uri: str
    oauth_client_id: str = ""
    oauth_client_secret: str = ""
    allow_insecure_urls: bool = False

    def __repr__(self) -> str:
        return f"AtlassianConfig(auth_url={self.auth_url!r}, api_url={self.api_url!r})"

    @property
    def oauth_configured(self) -> bool:
        """Whether a 3LO app is configured."""
        return bool(self.oauth_client_id and self.oauth_client_secret)

    def cloud_base(self, cloud_id: str) -> str:
        """The Confluence base URL for OAuth tokens: ``{api}/ex/confluence/{cloudId}``."""
        return f"{self.api_url.rstrip('/')}/ex/confluence/{cloud_id}"


@asynccontextmanager
async def atlassian_errors(subject: str) -> AsyncIterator[None]:
    """Turn client errors met while validating ``subject`` into ``userErrors``."""
    try:
        yield
    except (ConfluenceAuthError, ConfluenceForbidden, InvalidClient, InvalidGrant, InvalidToken):
        raise InvalidCredentials(
            f"Atlassian refused the {subject}: check it and that the account can read "
            "Confluence (a site or Confluence admin is recommended)."
        ) from None
    except ConfluenceNotFound:
        raise InvalidCredentials(
            f"No Confluence was found for the {subject}: check the site address."
        ) from None
    except (ConfluenceError, OAuthUnavailable, OAuthError, HttpError):
        raise ConfluenceUnavailable(
            "Atlassian could not be reached or failed to answer; nothing was saved. Try again."
        ) from None


@dataclass(eq=False, repr=False)
class ClientFactory:
    """Creates clients for validation (from typed-in secrets) and for stored integrations."""

    http: HttpSession
    config: AtlassianConfig
    vault: CredentialVault
    credentials: RefreshLockRepo
    locks: RefreshLocks
    on_reauth_needed: OnReauthNeeded

    def oauth(self) -> AtlassianOAuth:
        """The OAuth helper for Vigil's 3LO app (or none configured)."""
        app = (
            OAuthApp(self.config.oauth_client_id, self.config.oauth_client_secret)
            if self.config.oauth_configured
            else None
        )
        return AtlassianOAuth(
            self.http, app=app, auth_base_url=self.config.auth_url, api_base_url=self.config.api_url
        )

    def confluence(
        self, base_url: str, auth: ConfluenceAuth, policy: RetryPolicy = VALIDATION_POLICY
    ) -> ConfluenceClient:
        """A Confluence client on ``base_url``."""
        return ConfluenceClient(self.http, base_url, auth, policy)

    def admin(self, api_key: str, policy: RetryPolicy = VALIDATION_POLICY) -> AdminClient:
        """An Admin API client for an organization admin key."""
        return AdminClient(self.http, api_key, policy, api_base=self.config.api_url)

    async def confluence_for(
        self, integration: Integration, policy: RetryPolicy, http: HttpSession | None = None
    ) -> ConfluenceClient:
        """An authenticated client for a stored, connected integration."""
        http = http or self.http
        site = integration.site
        if site is None:
            raise InvalidCredentials("the integration has no site yet")
        org, iid = integration.organization_id, integration.id
        if integration.auth_method is AuthMethod.API_TOKEN:
            secret = await self.vault.load(org, iid, API_TOKEN)
            if secret is None:
                raise InvalidCredentials("the integration's API token is missing: reconnect")
            auth: ConfluenceAuth = BasicAuth(secret.values["email"], secret.values["api_token"])
            # A scoped API token works only through the gateway (the base that worked when
            # it was connected, confluence-api.md §4); a classic one on the site host.
            if secret.values.get("scoped") and site.cloud_id:
                return ConfluenceClient(http, self.config.cloud_base(site.cloud_id), auth, policy)
            return ConfluenceClient(http, site.url, auth, policy)
        assert site.cloud_id is not None
        base = self.config.cloud_base(site.cloud_id)
        if integration.auth_method is AuthMethod.CLIENT_CREDENTIALS:
            secret = await self.vault.load(org, iid, CLIENT_CREDENTIALS)
            if secret is None:
                raise InvalidCredentials("the integration's client secret is missing: reconnect")
            app = OAuthApp(secret.values["client_id"], secret.values["client_secret"])
            provider = ClientCredentialsTokenProvider(self.oauth(), app)
            return ConfluenceClient(http, base, TokenProviderAuth(provider), policy)
        stored = StoredOAuthTokenProvider(
            integration,
            vault=self.vault,
            credentials=self.credentials,
            oauth=self.oauth(),
            locks=self.locks,
            on_reauth_needed=self.on_reauth_needed,
        )
        return ConfluenceClient(http, base, TokenProviderAuth(stored), policy)

    async def admin_for(
        self, integration: Integration, policy: RetryPolicy, http: HttpSession | None = None
    ) -> AdminClient | None:
        """The Admin API client when the integration has an organization admin key."""
        if not integration.has_admin_key:
            return None
        secret = await self.vault.load(integration.organization_id, integration.id, ADMIN_API_KEY)
        if secret is None:
            return None
        return AdminClient(
            http or self.http, secret.values["api_key"], policy, api_base=self.config.api_url
        )
