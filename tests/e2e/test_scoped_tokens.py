"""Scoped API tokens (confluence-api.md §4): refused by the site host, accepted through the
gateway with the site's cloud id. Vigil tries the gateway on a 401 before refusing, remembers
the base that worked, and syncs through it; a refusal names both attempts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.confluence.client import ConfluenceClient
from services.confluence.retry import RetryPolicy
from simulator import RunningSimulator
from testkit.connect import Env
from tests.conftest import STORE_KINDS
from tests.e2e.connect_support import make_env, sim  # noqa: F401

API_TOKEN = """mutation($input: ConnectApiTokenInput!) {
  connectConfluenceApiToken(input: $input) { integration { id status site { url cloudId } }
    userErrors { field code message } } }"""


@pytest.fixture(params=STORE_KINDS)
async def env(request: pytest.FixtureRequest, sim: RunningSimulator) -> AsyncIterator[Env]:  # noqa: F811
    async for e in make_env(request, sim):
        yield e


def _input(env: Env, email: str, token: str) -> dict[str, Any]:
    return {
        "input": {
            "purpose": "ACCESS_REVIEW",
            "domain": env.sim.site_url("acme"),
            "email": email,
            "apiToken": token,
            "confirmCredentials": True,
        }
    }


async def test_a_scoped_token_connects_through_the_gateway(env: Env) -> None:
    simulator = env.sim.sim
    scoped = simulator.credentials.scoped_admin_token
    payload = (await env.gql(API_TOKEN, _input(env, scoped.email, scoped.token)))[
        "connectConfluenceApiToken"
    ]
    assert payload["userErrors"] == [], payload
    site = simulator.sites["acme"]
    assert payload["integration"]["status"] == "CONNECTED"
    assert payload["integration"]["site"] == {
        "url": env.sim.site_url("acme"),
        "cloudId": site.cloud_id,
    }
    # The stored integration's client uses the base that worked: the gateway.
    client = await stored_client(env, payload["integration"]["id"])
    assert client.base_url == env.sim.confluence_api_base(site.cloud_id)
    assert (await client.current_user()).account_id == site.operators["admin"]


async def test_a_classic_token_stays_on_the_site_host(env: Env) -> None:
    classic = env.sim.sim.credentials.admin_token
    payload = (await env.gql(API_TOKEN, _input(env, classic.email, classic.token)))[
        "connectConfluenceApiToken"
    ]
    assert payload["userErrors"] == []
    client = await stored_client(env, payload["integration"]["id"])
    assert client.base_url == env.sim.site_url("acme")


async def test_a_refused_token_names_both_attempts(env: Env) -> None:
    classic = env.sim.sim.credentials.admin_token
    payload = (await env.gql(API_TOKEN, _input(env, classic.email, "wrong-token")))[
        "connectConfluenceApiToken"
    ]
    error = payload["userErrors"][0]
    assert error["code"] == "INVALID_CREDENTIALS"
    assert "site" in error["message"] and "gateway" in error["message"]
    assert "wrong-token" not in error["message"]
    store = env.live.container.store
    assert await store.integrations.list_by_organization(organization_id=env.org_id) == []


async def stored_client(env: Env, integration_id: str) -> ConfluenceClient:
    """The client the stored integration's credential opens."""
    container = env.live.container
    integration = await container.store.integrations.get_by_id(integration_id=integration_id)
    assert integration is not None
    return await container.services.integrations.clients.confluence_for(integration, RetryPolicy())
