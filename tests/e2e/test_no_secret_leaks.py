"""Every log line and GraphQL response of the connect and refresh flows is free of secrets."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import httpx
import pytest

from api.logging import RedactingFilter
from services.confluence.retry import RetryPolicy
from simulator import RunningSimulator
from testkit.connect import Env
from tests.e2e.connect_support import issued_secrets, make_env, sim  # noqa: F401
from tests.e2e.test_tokens import connect_oauth, expire_stored_token


@pytest.fixture
async def env(request: pytest.FixtureRequest, sim: RunningSimulator) -> AsyncIterator[Env]:  # noqa: F811
    async for e in make_env(request, sim):
        yield e


async def test_no_secret_in_logs_or_responses(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    creds = env.sim.sim.credentials
    responses: list[str] = []

    async def post(query: str, variables: dict[str, object]) -> dict[str, object]:
        async with httpx.AsyncClient(timeout=10) as http:
            resp = await http.post(
                env.live.graphql_url,
                json={"query": query, "variables": variables},
                headers={"Authorization": f"Bearer {env.key}"},
            )
        responses.append(resp.text)
        return resp.json()  # type: ignore[no-any-return]

    api_token = """mutation($i: ConnectApiTokenInput!) { connectConfluenceApiToken(input: $i) {
      integration { id status statusMessage } userErrors { code message field } } }"""
    cc = """mutation($i: ConnectClientCredentialsInput!) { connectConfluenceClientCredentials(input: $i) {
      integration { id status } userErrors { code message field } } }"""
    admin = """mutation($i: SetAtlassianAdminKeyInput!) { setAtlassianAdminKey(input: $i) {
      integration { id hasAdminKey } userErrors { code message field } } }"""
    token = creds.admin_token
    base = {
        "purpose": "POLICY",
        "domain": env.sim.site_url(),
        "email": token.email,
        "confirmCredentials": True,
    }
    await post(api_token, {"i": {**base, "apiToken": token.token + "x"}})  # refused
    await post(api_token, {"i": {**base, "apiToken": token.token}})
    cc_input = {
        "purpose": "ACCESS_REVIEW",
        "clientId": creds.cc_client_id,
        "siteUrl": env.sim.site_url(),
    }
    await post(cc, {"i": {**cc_input, "clientSecret": creds.cc_client_secret + "x"}})  # refused
    integration = await connect_oauth(env)
    await post(
        admin,
        {
            "i": {
                "integrationId": integration.id,
                "orgId": creds.org_id,
                "apiKey": creds.admin_api_key + "x",
            }
        },
    )
    await post(
        admin,
        {
            "i": {
                "integrationId": integration.id,
                "orgId": creds.org_id,
                "apiKey": creds.admin_api_key,
            }
        },
    )
    await expire_stored_token(env, integration)
    client = await env.live.container.services.integrations.clients.confluence_for(
        integration, RetryPolicy()
    )
    await asyncio.gather(*(client.current_user() for _ in range(5)))
    responses.append(
        (
            await post(
                "{ integrations { id status site { url } grantedScopes statusMessage } }", {}
            )
        ).__repr__()
    )

    secrets = issued_secrets(env.sim.sim) | {env.key}
    assert len(secrets) > 8
    raw_logs = caplog.text
    assert "HTTP Request" in raw_logs or caplog.records, (
        "the flows above should have logged something"
    )
    for secret in secrets:
        assert secret not in raw_logs, "a secret reached a log record"
        assert all(secret not in body for body in responses), "a secret reached a GraphQL response"
    # What the production handler writes is redacted further (e.g. the one-time OAuth code).
    redactor = RedactingFilter()
    for record in caplog.records:
        redactor.filter(record)
        assert "code=" not in record.getMessage() or "[REDACTED]" in record.getMessage()
