"""SPEC §2 end to end: GraphQL → Vigil → the simulator as a real server, on both stores."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from gql import GraphQLRequest

from services.clock import utcnow_ms
from services.errors import AlreadyExists
from services.events import topic_for
from services.integrations.models import OAuthState, Purpose
from services.integrations.oauth_flow import hash_state
from services.models import Role
from simulator import RunningSimulator
from testkit.conditions import until
from testkit.connect import Env, consent
from testkit.graphql_client import gql_ws
from tests.conftest import STORE_KINDS
from tests.e2e.connect_support import (
    INTEGRATION_FIELDS,
    make_env,
    redirect_params,
    sim,  # noqa: F401 - fixture
)


def _integration_mutation(field: str, input_type: str, also: str = "") -> str:
    """``field(input: $input)`` selecting ``also``, the integration and the userErrors."""
    return f"""mutation($input: {input_type}!) {{
  {field}(input: $input) {{ {also}integration {{ {INTEGRATION_FIELDS} }}
    userErrors {{ field code message }} }} }}"""


API_TOKEN = _integration_mutation("connectConfluenceApiToken", "ConnectApiTokenInput")
CLIENT_CREDENTIALS = _integration_mutation(
    "connectConfluenceClientCredentials", "ConnectClientCredentialsInput"
)
START_OAUTH = _integration_mutation(
    "startConfluenceOAuth", "StartConfluenceOAuthInput", "authorizationUrl "
)
SELECT_SITE = _integration_mutation("selectConfluenceSite", "SelectConfluenceSiteInput")
ADMIN_KEY = _integration_mutation("setAtlassianAdminKey", "SetAtlassianAdminKeyInput")
DISCONNECT = f"""mutation($id: ID!) {{ disconnectIntegration(id: $id) {{
  integration {{ {INTEGRATION_FIELDS} }} userErrors {{ field code message }} }} }}"""
INTEGRATIONS = f"{{ integrations {{ {INTEGRATION_FIELDS} }} }}"


@pytest.fixture(params=STORE_KINDS)
async def env(request: pytest.FixtureRequest, sim: RunningSimulator) -> AsyncIterator[Env]:  # noqa: F811
    async for e in make_env(request, sim):
        yield e


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10, follow_redirects=False) as client:
        yield client


async def start_oauth(env: Env, purpose: str = "ACCESS_REVIEW") -> Any:
    """``startConfluenceOAuth`` for ``purpose``, the admin access confirmed: its payload."""
    variables = {"input": {"purpose": purpose, "confirmAdminAccess": True}}
    return (await env.gql(START_OAUTH, variables))["startConfluenceOAuth"]


def api_token_input(env: Env, **overrides: Any) -> dict[str, Any]:
    token = env.sim.sim.credentials.admin_token
    values = {
        "purpose": "POLICY",
        "domain": env.sim.site_url("acme"),
        "email": token.email,
        "apiToken": token.token,
        "confirmCredentials": True,
    }
    return {"input": {**values, **overrides}}


def client_credentials_input(env: Env, **overrides: Any) -> dict[str, Any]:
    """Variables of CLIENT_CREDENTIALS: the simulator's client-credentials app on the acme
    site, ``overrides`` replacing any of its inputs."""
    creds = env.sim.sim.credentials
    values = {
        "purpose": "ACCESS_REVIEW",
        "clientId": creds.cc_client_id,
        "clientSecret": creds.cc_client_secret,
        "siteUrl": env.sim.site_url("acme"),
    }
    return {"input": {**values, **overrides}}


async def watch_integrations(env: Env, received: list[dict[str, Any]], stop_at: str) -> None:
    """Collect integrationStatusChanged events until one has status ``stop_at``."""
    sub = "subscription { integrationStatusChanged { id status statusMessage } }"
    async with gql_ws(env.live.ws_url, env.key) as session:
        async for result in session.subscribe(GraphQLRequest(sub)):
            received.append(result["integrationStatusChanged"])
            if received[-1]["status"] == stop_at:
                return


async def subscribed(env: Env, task: asyncio.Task[None]) -> None:
    topic = topic_for(env.org_id, "integrations")
    await until(
        lambda: env.live.container.bus.subscriber_count(topic) or task.done(), what="a listener"
    )


async def stored_nothing(env: Env) -> None:
    store = env.live.container.store
    assert await store.integrations.list_by_organization(organization_id=env.org_id) == []
    assert await store._db["credentials"].count_documents({}) == 0


async def test_api_token_connects_and_a_subscriber_sees_it(env: Env) -> None:
    received: list[dict[str, Any]] = []
    task = asyncio.create_task(watch_integrations(env, received, "CONNECTED"))
    await subscribed(env, task)
    data = await env.gql(
        API_TOKEN, api_token_input(env, domain=env.sim.site_url("acme") + "/wiki/")
    )
    payload = data["connectConfluenceApiToken"]
    assert payload["userErrors"] == []
    integration = payload["integration"]
    assert integration["status"] == "CONNECTED" and integration["authMethod"] == "API_TOKEN"
    assert integration["site"]["url"] == env.sim.site_url("acme")
    await asyncio.wait_for(task, 30)  # bounds a broken test only: the push is the condition
    assert received[-1] == {"id": integration["id"], "status": "CONNECTED", "statusMessage": None}
    raw = await env.live.container.store._db["credentials"].find_one({"_id": integration["id"]})
    token = env.sim.sim.credentials.admin_token
    assert raw is not None and token.token not in str(raw) and token.email not in str(raw)
    # Connecting requested the first sync (run by a worker; none runs in this test server).
    listed = await env.gql("{ integrations { latestSyncRun { trigger status } } }")
    assert listed["integrations"][0]["latestSyncRun"] == {"trigger": "INITIAL", "status": "QUEUED"}


async def test_client_credentials_connect(env: Env) -> None:
    creds = env.sim.sim.credentials
    variables = client_credentials_input(env)
    payload = (await env.gql(CLIENT_CREDENTIALS, variables))["connectConfluenceClientCredentials"]
    assert payload["userErrors"] == []
    integration = payload["integration"]
    assert integration["status"] == "CONNECTED"
    assert integration["site"]["cloudId"] == env.sim.sim.sites["acme"].cloud_id
    raw = await env.live.container.store._db["credentials"].find_one({"_id": integration["id"]})
    assert creds.cc_client_secret not in str(raw)
    wrong = client_credentials_input(env, clientSecret="nope-not-it")
    payload = (await env.gql(CLIENT_CREDENTIALS, wrong))["connectConfluenceClientCredentials"]
    assert payload["userErrors"][0]["code"] == "ALREADY_CONNECTED"


async def test_oauth_single_site_end_to_end(env: Env, http: httpx.AsyncClient) -> None:
    received: list[dict[str, Any]] = []
    task = asyncio.create_task(watch_integrations(env, received, "CONNECTED"))
    await subscribed(env, task)
    started = await start_oauth(env)
    assert (
        started["userErrors"] == [] and started["integration"]["status"] == "PENDING_AUTHORIZATION"
    )
    url = started["authorizationUrl"]
    assert url.startswith(env.sim.auth_url + "/authorize?")
    assert "audience=api.atlassian.com" in url and "prompt=consent" in url
    assert "offline_access%20read%3Aconfluence-user" in url and "+" not in url
    params = redirect_params(await consent(http, url))
    assert params["status"] == "connected" and params["integration"] == started["integration"]["id"]
    await asyncio.wait_for(task, 30)  # bounds a broken test only: the push is the condition
    assert [e["status"] for e in received] == ["PENDING_AUTHORIZATION", "CONNECTED"]
    integration = (await env.gql(INTEGRATIONS))["integrations"][0]
    assert integration["site"]["cloudId"] == env.sim.sim.sites["acme"].cloud_id
    assert "offline_access" in integration["grantedScopes"]
    assert integration["availableSites"] == [integration["site"]]


async def test_oauth_several_sites_needs_a_selection(env: Env, http: httpx.AsyncClient) -> None:
    started = await start_oauth(env)
    params = redirect_params(
        await consent(http, started["authorizationUrl"], sites=("acme", "beta"))
    )
    assert params["status"] == "site_selection_required"
    integration = (await env.gql(INTEGRATIONS))["integrations"][0]
    assert integration["status"] == "SITE_SELECTION_REQUIRED"
    assert {s["name"] for s in integration["availableSites"]} == {"acme", "beta"}
    bad = await env.gql(
        SELECT_SITE, {"input": {"integrationId": integration["id"], "cloudId": "nope"}}
    )
    assert bad["selectConfluenceSite"]["userErrors"][0]["field"] == ["input", "cloudId"]
    beta = env.sim.sim.sites["beta"].cloud_id
    chosen = await env.gql(
        SELECT_SITE, {"input": {"integrationId": integration["id"], "cloudId": beta}}
    )
    assert chosen["selectConfluenceSite"]["integration"]["status"] == "CONNECTED"
    assert chosen["selectConfluenceSite"]["integration"]["site"]["cloudId"] == beta


async def test_oauth_declined_marks_error_and_allows_a_new_start(
    env: Env, http: httpx.AsyncClient
) -> None:
    started = await start_oauth(env)
    params = redirect_params(await consent(http, started["authorizationUrl"], decision="deny"))
    assert params["status"] == "denied"
    integration = (await env.gql(INTEGRATIONS))["integrations"][0]
    assert integration["status"] == "ERROR" and "declined" in integration["statusMessage"]
    again = await start_oauth(env)
    assert again["userErrors"] == []


async def test_bad_states_are_rejected_and_change_nothing(
    env: Env, http: httpx.AsyncClient
) -> None:
    started = await start_oauth(env)
    callback = f"{env.live.url}/oauth/confluence/callback"
    forged = await http.get(callback, params={"code": "x", "state": "forged-state"})
    assert forged.status_code == 400 and "not valid" in forged.text
    missing = await http.get(callback, params={"code": "x"})
    assert missing.status_code == 400
    # Consent once (uses the state), then replay the same callback URL.
    answer = await http.post(
        started["authorizationUrl"], data={"decision": "approve", "site": "acme"}
    )
    first = await http.get(answer.headers["location"])
    assert redirect_params(first)["status"] == "connected"
    replay = await http.get(answer.headers["location"])
    assert replay.status_code == 400
    store = env.live.container.store
    # An expired state and one bound to another organization's integration are refused too.
    other_org, _ = await env.live.container.services.organizations.create_organization("Other")
    pending = await store.integrations.get_live_for_purpose(
        organization_id=env.org_id, purpose=Purpose.ACCESS_REVIEW
    )
    assert pending is not None
    for org, expires in ((env.org_id, utcnow_ms()), (other_org.id, utcnow_ms().replace(year=2030))):
        state = f"state-{org}-{expires.year}"
        await store.oauth_states.create(
            state_hash=hash_state(state), bound_to=OAuthState(org, pending.id, expires)
        )
        refused = await http.get(callback, params={"code": "x", "state": state})
        assert refused.status_code == 400
    after = await store.integrations.get_by_id(integration_id=pending.id)
    assert (
        after is not None
        and after.status.value == "CONNECTED"
        and after.updated_at == pending.updated_at
    )


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"apiToken": "ATATT-wrong-token"}, "INVALID_CREDENTIALS", None),
        ({"email": "someone@else.example"}, "INVALID_CREDENTIALS", None),
        ({"confirmCredentials": False}, "CONFIRMATION_REQUIRED", ["input", "confirmCredentials"]),
        ({"email": "not-an-email"}, "VALIDATION_FAILED", ["input", "email"]),
        ({"apiToken": "  "}, "VALIDATION_FAILED", ["input", "apiToken"]),
        ({"domain": ""}, "INVALID_DOMAIN", ["input", "domain"]),
        ({"domain": "ftp://x.example"}, "INVALID_DOMAIN", ["input", "domain"]),
    ],
)
async def test_api_token_bad_input_stores_nothing(
    env: Env, overrides: dict[str, Any], code: str, field: list[str] | None
) -> None:
    payload = (await env.gql(API_TOKEN, api_token_input(env, **overrides)))[
        "connectConfluenceApiToken"
    ]
    assert payload["integration"] is None
    assert payload["userErrors"][0]["code"] == code
    if field is not None:
        assert payload["userErrors"][0]["field"] == field
    assert "ATATT" not in payload["userErrors"][0]["message"]
    await stored_nothing(env)


async def test_unavailable_confluence_stores_nothing(env: Env) -> None:
    with env.sim.sim.faults.override(rate_503=1.0, retry_after=0):
        payload = (await env.gql(API_TOKEN, api_token_input(env)))["connectConfluenceApiToken"]
    assert payload["userErrors"][0]["code"] == "CONFLUENCE_UNAVAILABLE"
    down = (await env.gql(API_TOKEN, api_token_input(env, domain="http://127.0.0.1:9/site/acme")))[
        "connectConfluenceApiToken"
    ]
    assert down["userErrors"][0]["code"] == "CONFLUENCE_UNAVAILABLE"
    cc = client_credentials_input(env, clientSecret="wrong")
    wrong_secret = (await env.gql(CLIENT_CREDENTIALS, cc))["connectConfluenceClientCredentials"]
    assert wrong_secret["userErrors"][0]["code"] == "INVALID_CREDENTIALS"
    await stored_nothing(env)


async def test_confirmation_already_connected_and_roles(env: Env) -> None:
    no_confirm = (await env.gql(START_OAUTH, {"input": {"purpose": "ACCESS_REVIEW"}}))[
        "startConfluenceOAuth"
    ]
    assert no_confirm["userErrors"][0] == {
        "field": ["input", "confirmAdminAccess"],
        "code": "CONFIRMATION_REQUIRED",
        "message": no_confirm["userErrors"][0]["message"],
    }
    viewer = await env.live.container.services.api_keys.create_api_key_for(
        env.org_id, Role.VIEWER, "v"
    )
    forbidden = (await env.gql(API_TOKEN, api_token_input(env), key=viewer.secret))[
        "connectConfluenceApiToken"
    ]
    assert forbidden["userErrors"][0]["code"] == "FORBIDDEN"
    await stored_nothing(env)
    first = (await env.gql(API_TOKEN, api_token_input(env)))["connectConfluenceApiToken"]
    assert first["userErrors"] == []
    second = (await env.gql(API_TOKEN, api_token_input(env)))["connectConfluenceApiToken"]
    assert second["userErrors"][0]["code"] == "ALREADY_CONNECTED"
    oauth = await start_oauth(env, "POLICY")
    assert oauth["userErrors"][0]["code"] == "ALREADY_CONNECTED"
    # Disconnect keeps the record, deletes the credential, frees the purpose.
    gone = (await env.gql(DISCONNECT, {"id": first["integration"]["id"]}))["disconnectIntegration"]
    assert gone["integration"]["status"] == "DISCONNECTED"
    assert await env.live.container.store._db["credentials"].count_documents({}) == 0
    again = (await env.gql(API_TOKEN, api_token_input(env)))["connectConfluenceApiToken"]
    assert again["userErrors"] == [] and again["integration"]["id"] != first["integration"]["id"]


async def test_admin_key_is_validated_before_it_is_stored(env: Env) -> None:
    creds = env.sim.sim.credentials
    connected = (await env.gql(API_TOKEN, api_token_input(env, purpose="ACCESS_REVIEW")))[
        "connectConfluenceApiToken"
    ]
    iid = connected["integration"]["id"]
    bad = (
        await env.gql(
            ADMIN_KEY,
            {"input": {"integrationId": iid, "orgId": creds.org_id, "apiKey": "wrong-key"}},
        )
    )["setAtlassianAdminKey"]
    assert bad["userErrors"][0]["code"] == "INVALID_CREDENTIALS"
    raw = await env.live.container.store._db["credentials"].find_one({"_id": iid})
    assert raw is not None and "admin_api_key" not in raw["secrets"]
    ok = (
        await env.gql(
            ADMIN_KEY,
            {"input": {"integrationId": iid, "orgId": creds.org_id, "apiKey": creds.admin_api_key}},
        )
    )["setAtlassianAdminKey"]
    assert ok["userErrors"] == []
    assert (
        ok["integration"]["hasAdminKey"] is True and ok["integration"]["adminOrgId"] == creds.org_id
    )
    _other_org, other_key = await env.live.container.services.organizations.create_organization(
        "Other"
    )
    hidden = (
        await env.gql(
            ADMIN_KEY,
            {"input": {"integrationId": iid, "orgId": creds.org_id, "apiKey": creds.admin_api_key}},
            key=other_key.secret,
        )
    )["setAtlassianAdminKey"]
    assert hidden["userErrors"][0]["code"] == "NOT_FOUND"
    assert (
        await env.gql(
            "query($id: ID!) { integration(id: $id) { id } }", {"id": iid}, key=other_key.secret
        )
    )["integration"] is None


@pytest.fixture
async def strict_env(request: pytest.FixtureRequest, sim: RunningSimulator) -> AsyncIterator[Env]:  # noqa: F811
    async for e in make_env(request, sim, allow_insecure_urls=False):
        yield e


async def test_only_atlassian_sites_without_insecure_urls(strict_env: Env) -> None:
    env = strict_env
    for domain in ("evil.com", env.sim.site_url("acme"), "acme.atlassian.net.evil.com"):
        payload = (await env.gql(API_TOKEN, api_token_input(env, domain=domain)))[
            "connectConfluenceApiToken"
        ]
        assert payload["userErrors"][0]["code"] == "INVALID_DOMAIN", domain
        assert payload["userErrors"][0]["field"] == ["input", "domain"]
    refused = (await env.gql(CLIENT_CREDENTIALS, client_credentials_input(env)))[
        "connectConfluenceClientCredentials"
    ]
    assert refused["userErrors"][0]["code"] == "INVALID_DOMAIN"
    assert refused["userErrors"][0]["field"] == ["input", "siteUrl"]
    assert env.sim.sim.counters.count() == 0  # refused before any call to Atlassian
    await stored_nothing(env)


async def test_a_purpose_connected_meanwhile_is_already_connected(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A concurrent connect wins the store's unique index: the loser's user error, no 500."""

    async def taken(**_: Any) -> Any:
        raise AlreadyExists("the organization has a live integration for this purpose")

    monkeypatch.setattr(env.live.container.store.integrations, "create", taken)
    token = (await env.gql(API_TOKEN, api_token_input(env)))["connectConfluenceApiToken"]
    assert token["userErrors"][0]["code"] == "ALREADY_CONNECTED"
    assert "connected meanwhile; disconnect it first" in token["userErrors"][0]["message"]
    oauth = await start_oauth(env, "POLICY")
    assert oauth["userErrors"][0]["code"] == "ALREADY_CONNECTED"
    assert oauth["userErrors"][0]["message"] == "POLICY was connected meanwhile"
