"""A whole session at DEBUG, then a scan: no secret in logs, responses, errors or the database.

The session connects all three ways (API token, client credentials, OAuth) plus an admin
key, refreshes a token, opens a WebSocket, creates and revokes API keys and provokes errors.
The scan looks for every secret in full and for its last 12 characters (truncated log lines
printed key tails) in what the production log handler wrote at DEBUG, in every response
body, and in every stored document except the encrypted credentials.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from api.logging import configure_logging
from services.confluence.retry import RetryPolicy
from simulator import RunningSimulator
from testkit.connect import Env
from tests.e2e.connect_support import issued_secrets, make_env, sim  # noqa: F401
from tests.e2e.test_tokens import connect_oauth, expire_stored_token
from tests.security.support import ack, raw_ws, subscribe


@pytest.fixture
async def env(request: pytest.FixtureRequest, sim: RunningSimulator) -> AsyncIterator[Env]:  # noqa: F811
    async for e in make_env(request, sim):
        yield e


API_TOKEN = """mutation($i: ConnectApiTokenInput!) { connectConfluenceApiToken(input: $i) {
  integration { id status statusMessage } userErrors { code message field } } }"""
CLIENT_CREDENTIALS = """mutation($i: ConnectClientCredentialsInput!) {
  connectConfluenceClientCredentials(input: $i) {
  integration { id status statusMessage } userErrors { code message field } } }"""
ADMIN_KEY = """mutation($i: SetAtlassianAdminKeyInput!) { setAtlassianAdminKey(input: $i) {
  integration { id hasAdminKey } userErrors { code message field } } }"""


async def test_no_secret_anywhere_after_a_session_at_debug(
    env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    responses: list[str] = []
    try:
        configure_logging("DEBUG", json_lines=True)
        created_secret = await _session(env, responses)
    finally:
        root.handlers, root.level = saved
    logs = capsys.readouterr().err
    assert '"level": "DEBUG"' in logs, "nothing was logged at DEBUG: the scan proves nothing"

    secrets = issued_secrets(env.sim.sim) | {env.key, created_secret}
    stored = await _stored_documents(env)
    for secret in secrets:
        for part in (secret, secret[-12:]):
            assert part not in logs, "a secret reached the DEBUG log"
            assert all(part not in body for body in responses), "a secret reached a response"
            assert part not in stored, "a secret is stored in clear"


async def _session(env: Env, responses: list[str]) -> str:
    creds = env.sim.sim.credentials
    url = env.live.graphql_url

    async with httpx.AsyncClient(timeout=20) as http:

        async def post(query: str, variables: dict[str, Any], key: str | None = None) -> Any:
            resp = await http.post(
                url,
                json={"query": query, "variables": variables},
                headers={"Authorization": f"Bearer {key or env.key}"},
            )
            responses.append(resp.text)
            return resp.json()

        site = env.sim.site_url()
        token = creds.admin_token
        base = {"purpose": "POLICY", "domain": site, "email": token.email}
        await post(
            API_TOKEN, {"i": {**base, "confirmCredentials": True, "apiToken": "x" + token.token}}
        )
        await post(API_TOKEN, {"i": {**base, "confirmCredentials": True, "apiToken": token.token}})
        cc = {"purpose": "ACCESS_REVIEW", "clientId": creds.cc_client_id, "siteUrl": site}
        await post(CLIENT_CREDENTIALS, {"i": {**cc, "clientSecret": creds.cc_client_secret + "x"}})
        integration = await connect_oauth(env)
        admin = {"integrationId": integration.id, "orgId": creds.org_id}
        await post(ADMIN_KEY, {"i": {**admin, "apiKey": creds.admin_api_key + "x"}})
        await post(ADMIN_KEY, {"i": {**admin, "apiKey": creds.admin_api_key}})
        await post(ADMIN_KEY, {"i": {**admin, "apiKey": "clé " + creds.admin_api_key}})
        await expire_stored_token(env, integration)
        client = await env.live.container.services.integrations.clients.confluence_for(
            integration, RetryPolicy()
        )
        await asyncio.gather(*(client.current_user() for _ in range(3)))

        made = await post(
            "mutation { createApiKey(input: {role: VIEWER}) { secret apiKey { id } } }", {}
        )
        created = made["data"]["createApiKey"]
        responses.pop()  # the one response that must show a secret: the new key, once
        async with raw_ws(env.live, created["secret"]) as ws:
            await ack(ws)
            await ws.send(subscribe("1", "{ me { role } }"))
            await ws.recv()
        await post(
            "mutation($id: ID!) { revokeApiKey(id: $id) { userErrors { code } } }",
            {"id": created["apiKey"]["id"]},
        )
        refused = await http.post(
            url,
            json={"query": "{ me { role } }"},
            headers={"Authorization": f"Bearer {created['secret']}"},
        )
        responses.append(refused.text)
        await post("{ integrations { id status statusMessage grantedScopes } }", {})
        await post("{ apiKeys { id name prefix } }", {})
    return str(created["secret"])


async def _stored_documents(env: Env) -> str:
    db = env.live.container.store._db
    texts = []
    for name in sorted(await db.list_collection_names()):
        if name == "credentials":  # encrypted (ADR 002); tested in tests/unit/test_crypto.py
            continue
        async for doc in db[name].find({}):
            texts.append(json.dumps(doc, default=str))
    return "\n".join(texts)
