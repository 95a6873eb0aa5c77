"""OAuth (3LO, rotation, client credentials), accessible resources and the Admin API, against the
simulator as a real HTTP server over loopback."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from services.atlassian.admin import AdminClient
from services.atlassian.errors import InvalidClient, InvalidGrant, InvalidToken
from services.atlassian.models import OAuthApp, TokenSet
from services.atlassian.oauth import AtlassianOAuth, authorization_url
from services.atlassian.token_providers import ClientCredentialsTokenProvider
from services.confluence.auth import TokenProvider, TokenProviderAuth
from services.confluence.client import ConfluenceClient
from services.confluence.errors import ConfluenceAuthError
from services.confluence.retry import RetryPolicy
from services.integrations.tokens import ReauthRequired
from simulator import VIGIL_SCOPES, RunningSimulator, Simulator

from .support import StoredTokens, collect, stored_tokens

REDIRECT = "http://127.0.0.1:9/oauth/confluence/callback"


class TokenRequests:
    """Records the refresh tokens sent to the token endpoint (an httpx request hook)."""

    def __init__(self) -> None:
        self.refresh_tokens: list[str] = []

    async def __call__(self, request: httpx.Request) -> None:
        if request.url.path.endswith("/oauth/token"):
            body = json.loads(request.content)
            if body.get("grant_type") == "refresh_token":
                self.refresh_tokens.append(body["refresh_token"])


@pytest.fixture
def sent() -> TokenRequests:
    return TokenRequests()


@pytest.fixture
async def oauth_http(sent: TokenRequests) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10, event_hooks={"request": [sent]}) as client:
        yield client


@pytest.fixture
def oauth(
    served: RunningSimulator, sim: Simulator, oauth_http: httpx.AsyncClient
) -> AtlassianOAuth:
    creds = sim.credentials
    return AtlassianOAuth(
        oauth_http,
        app=OAuthApp(creds.oauth_client_id, creds.oauth_client_secret),
        auth_base_url=served.auth_url,
        api_base_url=served.api_url,
        clock=sim.clock.now,
    )


@pytest.fixture
def confluence_with(
    served: RunningSimulator, net: httpx.AsyncClient, sim_policy: RetryPolicy
) -> Callable[[TokenProvider], ConfluenceClient]:
    """Confluence clients to the simulator whose bearer tokens come from a provider."""

    def build(provider: TokenProvider) -> ConfluenceClient:
        return ConfluenceClient(
            net, served.confluence_api_base(), TokenProviderAuth(provider), sim_policy
        )

    return build


StoredClient = Callable[
    [TokenSet, Callable[[], datetime]], Awaitable[tuple[StoredTokens, ConfluenceClient]]
]


@pytest.fixture
def stored_client(
    oauth: AtlassianOAuth, confluence_with: Callable[[TokenProvider], ConfluenceClient]
) -> StoredClient:
    """Tokens kept in a fresh store and a Confluence client whose provider refreshes them
    through ``oauth``, by the given clock: (the stored tokens, the client)."""

    async def build(
        tokens: TokenSet, clock: Callable[[], datetime]
    ) -> tuple[StoredTokens, ConfluenceClient]:
        stored = await stored_tokens(tokens)
        return stored, confluence_with(stored.provider(oauth, clock))

    return build


async def _consent(served: RunningSimulator, http: httpx.AsyncClient, url: str) -> str:
    """Play the browser: approve the consent page, return the code from the callback."""
    response = await http.post(url, data={"decision": "approve"})
    assert response.status_code == 302, response.text
    callback = parse_qs(urlsplit(response.headers["location"]).query)
    assert callback["state"] == ["state-123"]
    return callback["code"][0]


async def test_authorize_url_is_accepted_and_plus_is_refused(
    served: RunningSimulator, sim: Simulator, net: httpx.AsyncClient
) -> None:
    url = authorization_url(
        sim.credentials.oauth_client_id, REDIRECT, VIGIL_SCOPES, "state-123",
        auth_base_url=served.auth_url,
    )  # fmt: skip
    accepted = await net.get(url)
    assert accepted.status_code == 200
    assert "requesting access" in accepted.text
    refused = await net.get(url.replace("%20", "+"))
    assert refused.status_code == 400
    assert "%20" in refused.text


@pytest.fixture
async def granted(
    served: RunningSimulator, oauth: AtlassianOAuth, net: httpx.AsyncClient
) -> TokenSet:
    """The tokens of a 3LO grant: consent approved on the simulator, its code exchanged."""
    url = oauth.authorization_url(REDIRECT, VIGIL_SCOPES, "state-123")
    code = await _consent(served, net, url)
    return await oauth.exchange_code(code, REDIRECT)


async def test_code_exchange_and_accessible_resources(
    served: RunningSimulator, sim: Simulator, oauth: AtlassianOAuth, granted: TokenSet
) -> None:
    token = granted
    assert token.refresh_token
    assert "read:confluence-groups" in token.scopes
    assert token.expires_at > sim.clock.now()
    sites = await oauth.accessible_resources(token.access_token)
    assert [(s.cloud_id, s.name) for s in sites] == [(sim.site.cloud_id, sim.site.name)]
    assert sites[0].url == served.site_url()
    with pytest.raises(InvalidGrant):  # a code is single-use
        await oauth.exchange_code(token.access_token, REDIRECT)
    with pytest.raises(InvalidToken):
        await oauth.accessible_resources("not-a-token")


async def test_rotation_uses_the_newest_refresh_token_and_never_revokes(
    sim: Simulator, granted: TokenSet, sent: TokenRequests, stored_client: StoredClient
) -> None:
    first = granted
    stored, client = await stored_client(first, sim.clock.now)
    for _ in range(4):
        assert (await client.current_user()).account_id == sim.credentials.oauth_account_id
        sim.clock.advance(3700)  # the access token expires; the reuse window (600 s) passes
    assert (await client.list_groups()).items
    grant = sim.tokens.grant_for_refresh_token(first.refresh_token or "")
    assert grant is not None and not grant.revoked
    assert grant.refresh_tokens[0] == first.refresh_token
    assert sent.refresh_tokens == grant.refresh_tokens[:4]  # each exactly once, newest first
    assert (await stored.load())["refresh_token"] == grant.refresh_tokens[-1]


async def test_simulator_revokes_the_family_on_late_reuse(
    sim: Simulator, oauth: AtlassianOAuth, granted: TokenSet, stored_client: StoredClient
) -> None:
    """What the helper must never do: replay a retired refresh token after the window."""
    first = granted
    assert first.refresh_token is not None
    within, after = sim.tokens.reuses_within_window, sim.tokens.reuses_after_window
    second = await oauth.refresh(first.refresh_token)
    assert second.refresh_token not in (None, first.refresh_token)
    again = await oauth.refresh(first.refresh_token)  # within ~10 minutes: still works
    assert again.refresh_token
    sim.clock.advance(601)
    with pytest.raises(InvalidGrant):
        await oauth.refresh(first.refresh_token)  # too late: the whole family is revoked
    grant = sim.tokens.grant_for_refresh_token(first.refresh_token)
    assert grant is not None and grant.revoked
    assert sim.tokens.reuses_within_window - within == 1
    assert sim.tokens.reuses_after_window - after == 1
    with pytest.raises(InvalidGrant):
        await oauth.refresh(again.refresh_token or "")
    stored, client = await stored_client(again, sim.clock.now)
    with pytest.raises(ReauthRequired):  # 401 → one refresh attempt → invalid_grant → reconnect
        await client.current_user()
    assert len(stored.reauth) == 1


async def test_server_side_expiry_triggers_one_refresh(
    sim: Simulator, granted: TokenSet, sent: TokenRequests, stored_client: StoredClient
) -> None:
    token = granted
    # The provider's clock lags the server's: it believes the token valid, the server does not.
    stored, client = await stored_client(token, lambda: datetime.now(UTC))
    sim.clock.advance(3700)
    assert (await client.current_user()).account_id == sim.credentials.oauth_account_id
    assert sent.refresh_tokens == [token.refresh_token]
    assert (await stored.load())["refresh_token"] != token.refresh_token


async def test_wrong_client_secret(
    served: RunningSimulator, sim: Simulator, oauth_http: httpx.AsyncClient
) -> None:
    creds = sim.credentials
    bad = AtlassianOAuth(
        oauth_http, app=OAuthApp(creds.oauth_client_id, "nope"), auth_base_url=served.auth_url
    )
    with pytest.raises(InvalidClient):
        await bad.refresh("rt-whatever")
    with pytest.raises(InvalidClient):
        await bad.client_credentials(creds.cc_client_id, "nope")


async def test_client_credentials(
    served: RunningSimulator,
    sim: Simulator,
    oauth: AtlassianOAuth,
    net: httpx.AsyncClient,
    confluence_with: Callable[[TokenProvider], ConfluenceClient],
) -> None:
    creds = sim.credentials
    token = await oauth.client_credentials(creds.cc_client_id, creds.cc_client_secret)
    assert token.refresh_token is None
    provider = ClientCredentialsTokenProvider(
        oauth, OAuthApp(creds.cc_client_id, creds.cc_client_secret), clock=sim.clock.now
    )
    client = confluence_with(provider)
    me = await client.current_user()
    assert me.account_id == creds.cc_account_id
    sim.clock.advance(3700)  # expired: a new token is fetched, no refresh token needed
    assert (await client.current_user()).account_id == creds.cc_account_id
    cloud_id = await client.tenant_info(served.site_url())
    assert cloud_id == sim.site.cloud_id


async def test_admin_directory_search(
    served: RunningSimulator, sim: Simulator, net: httpx.AsyncClient, sim_policy: RetryPolicy
) -> None:
    creds = sim.credentials
    admin = AdminClient(net, creds.admin_api_key, sim_policy, api_base=served.api_url)
    cloud_id = sim.site.cloud_id
    users = await collect(
        lambda c: admin.search_directory_users(creds.org_id, c, cloud_id=cloud_id)
    )
    directory = sim.directory_accounts()
    assert [u.account_id for u in users] == [a.account_id for _, a in directory]
    for user, (site, account) in zip(users, directory, strict=True):
        if site.is_managed(account):
            assert user.mfa_enabled == account.mfa_enabled
        else:
            assert user.mfa_enabled is None  # the simulator answers false: unknown, not false
        assert user.account_status.value == account.account_status
        assert user.email == (account.email or None)
        assert user.last_active == account.last_active
    assert any(u.mfa_enabled is False for u in users)
    assert any(u.mfa_enabled is None for u in users)
    assert any(u.last_active is not None for u in users)
    sim.faults.script("429", route="POST /admin/v2/orgs/{orgId}/directories/-/users/search")
    assert (await admin.search_directory_users(creds.org_id, limit=5)).items


async def test_admin_api_refuses_other_credentials(
    served: RunningSimulator, sim: Simulator, net: httpx.AsyncClient, sim_policy: RetryPolicy
) -> None:
    oauth_token = sim.issue_access_token(refresh=False)["access_token"]
    admin = AdminClient(net, oauth_token, sim_policy, api_base=served.api_url)
    with pytest.raises(ConfluenceAuthError) as caught:
        await admin.search_directory_users(sim.credentials.org_id)
    assert oauth_token not in str(caught.value)
