"""Token refresh: once per integration across processes, rotation persisted, re-auth marked."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from gql import GraphQLRequest

from services.clock import utcnow_ms
from services.confluence.errors import ConfluenceError
from services.confluence.retry import RetryPolicy
from services.events import topic_for
from services.integrations.changes import INTEGRATIONS_CHANNEL
from services.integrations.models import Integration
from services.integrations.tokens import ReauthRequired, secret_to_tokens, tokens_to_secret
from services.integrations.vault import OAUTH_TOKENS
from simulator import RunningSimulator
from testkit.conditions import until
from testkit.connect import Env
from testkit.graphql_client import gql_ws
from testkit.refresh_race import connect_oauth
from tests.conftest import STORE_KINDS
from tests.e2e.connect_support import make_env, sim  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
TOKEN_ROUTE = "POST /oauth/token"


@pytest.fixture(params=STORE_KINDS)
async def env(request: pytest.FixtureRequest, sim: RunningSimulator) -> AsyncIterator[Env]:  # noqa: F811
    async for e in make_env(request, sim):
        yield e


async def expire_stored_token(env: Env, integration: Integration) -> dict[str, Any]:
    vault = env.live.container.services.integrations.vault
    secret = await vault.load(env.org_id, integration.id, OAUTH_TOKENS)
    assert secret is not None
    tokens = secret_to_tokens(secret.values)
    expired = tokens_to_secret(
        type(tokens)(
            tokens.access_token,
            tokens.refresh_token,
            utcnow_ms() - timedelta(minutes=5),
            tokens.scopes,
        )
    )
    assert await vault.swap(env.org_id, integration.id, OAUTH_TOKENS, expired, secret.version)
    return expired


async def test_fifty_concurrent_calls_on_an_expired_token_refresh_once(env: Env) -> None:
    integration = await connect_oauth(env)
    old = await expire_stored_token(env, integration)
    refreshes_before = env.sim.sim.counters.count(TOKEN_ROUTE)
    client = await env.live.container.services.integrations.clients.confluence_for(
        integration, RetryPolicy()
    )
    users = await asyncio.gather(*(client.current_user() for _ in range(50)))
    assert len({u.account_id for u in users}) == 1
    assert env.sim.sim.counters.count(TOKEN_ROUTE) - refreshes_before == 1
    stored = await env.live.container.services.integrations.vault.load(
        env.org_id, integration.id, OAUTH_TOKENS
    )
    assert stored is not None
    assert stored.values["refresh_token"] != old["refresh_token"]  # the rotated pair was persisted
    grant = env.sim.sim.tokens.grant_for_refresh_token(stored.values["refresh_token"])
    assert grant is not None and not grant.revoked
    raw = await env.live.container.store._db["credentials"].find_one({"_id": integration.id})
    assert stored.values["refresh_token"] not in str(raw) and stored.values[
        "access_token"
    ] not in str(raw)


@pytest.mark.wire
@pytest.mark.parametrize("env", ["wire"], indirect=True)
async def test_two_processes_sharing_a_database_refresh_once(env: Env, wire_url: str) -> None:
    integration = await connect_oauth(env)
    await expire_stored_token(env, integration)
    refreshes_before = env.sim.sim.counters.count(TOKEN_ROUTE)
    settings = env.live.container.settings
    process_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")},
        "VIGIL_MONGODB_URL": wire_url,
        "VIGIL_MONGODB_DB": env.live.container.store._db.name,
        "VIGIL_SECRET_KEY": settings.secret_key.get_secret_value() if settings.secret_key else "",
        "VIGIL_EVIDENCE_HMAC_KEY": (
            settings.evidence_hmac_key.get_secret_value() if settings.evidence_hmac_key else ""
        ),
        "VIGIL_ATLASSIAN_AUTH_URL": settings.atlassian_auth_url,
        "VIGIL_ATLASSIAN_API_URL": settings.atlassian_api_url,
        "VIGIL_OAUTH_CLIENT_ID": settings.oauth_client_id,
        "VIGIL_OAUTH_CLIENT_SECRET": env.sim.sim.credentials.oauth_client_secret,
        "PYTHONPATH": str(ROOT),
    }
    with tempfile.TemporaryDirectory() as tmp:
        go = os.path.join(tmp, "go")
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "tests.e2e.refresh_process", integration.id, "25", go],
                env=process_env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
            for _ in range(2)
        ]
        for proc in procs:
            assert proc.stdout is not None
            line = await asyncio.to_thread(proc.stdout.readline)
            assert line.strip() == "ready", proc.stderr.read() if proc.stderr else line
        Path(go).touch()
        outputs = [await asyncio.to_thread(p.communicate, timeout=60) for p in procs]
    lines = [line for out, _ in outputs for line in out.splitlines()]
    assert len(lines) == 50 and all(line.startswith("ok ") for line in lines), outputs
    assert env.sim.sim.counters.count(TOKEN_ROUTE) - refreshes_before == 1


async def test_a_revoked_grant_marks_the_integration_needs_reauth(env: Env) -> None:
    integration = await connect_oauth(env)
    stored = await expire_stored_token(env, integration)
    grant = env.sim.sim.tokens.grant_for_refresh_token(stored["refresh_token"])
    assert grant is not None
    env.sim.sim.tokens.revoke_grant(grant.grant_id)
    received: list[dict[str, Any]] = []

    async def watch() -> None:
        sub = "subscription { integrationStatusChanged { id status statusMessage } }"
        async with gql_ws(env.live.ws_url, env.key) as session:
            async for result in session.subscribe(GraphQLRequest(sub)):
                received.append(result["integrationStatusChanged"])
                return

    task = asyncio.create_task(watch())
    # Not any listener: the socket registry's revocation watch of the key listens from
    # connection_init on, before the subscription does.
    topic = topic_for(env.org_id, INTEGRATIONS_CHANNEL)
    await until(lambda: env.live.container.bus.subscriber_count(topic), what="the subscription")
    client = await env.live.container.services.integrations.clients.confluence_for(
        integration, RetryPolicy()
    )
    with pytest.raises((ReauthRequired, ConfluenceError)):
        await client.current_user()
    await asyncio.wait_for(task, 30)  # bounds a broken test only: the push is the condition
    assert received[0]["id"] == integration.id and received[0]["status"] == "NEEDS_REAUTH"
    assert "reconnect" in received[0]["statusMessage"].lower()
    after = await env.live.container.store.integrations.get_by_id(integration_id=integration.id)
    assert after is not None and after.status.value == "NEEDS_REAUTH"
    # Re-authorising reuses the integration: OAuth again brings it back to CONNECTED.
    again = await connect_oauth(env)
    assert again.id == integration.id


SET_ADMIN_KEY = """mutation($input: SetAtlassianAdminKeyInput!) {
  setAtlassianAdminKey(input: $input) { integration { hasAdminKey } userErrors { code } } }"""


async def test_short_lived_tokens_and_admin_key_writes_during_concurrent_refreshes(
    env: Env,
) -> None:
    """Defect 2 with real concurrency: two clients of one integration (two runs) make calls
    together while their 20-second access tokens expire server-side again and again and the
    admin key is set through GraphQL during the refreshes. Every call succeeds, each expiry
    costs exactly one refresh, and the refresh-token family is never revoked."""
    integration = await connect_oauth(env)
    simulator = env.sim.sim
    creds = simulator.credentials
    policy = simulator.tokens.policy
    saved_ttl, policy.access_token_ttl = policy.access_token_ttl, 20
    try:
        await expire_stored_token(env, integration)  # the first refresh issues a 20-s token
        factory = env.live.container.services.integrations.clients
        clients = [await factory.confluence_for(integration, RetryPolicy()) for _ in range(2)]
        refreshes_before = simulator.counters.count(TOKEN_ROUTE)

        async def set_admin_key() -> None:
            variables = {
                "input": {
                    "integrationId": integration.id,
                    "orgId": creds.org_id,
                    "apiKey": creds.admin_api_key,
                }
            }
            data = await env.gql(SET_ADMIN_KEY, variables)
            assert data["setAtlassianAdminKey"]["userErrors"] == []

        rounds = 4
        for _ in range(rounds):
            calls = [c.current_user() for c in clients for _ in range(10)]
            results = await asyncio.gather(set_admin_key(), *calls, set_admin_key())
            assert all(u.account_id == creds.oauth_account_id for u in results[1:-1])
            simulator.clock.advance(30)  # every token handed out so far is now expired at Atlassian
        assert simulator.counters.count(TOKEN_ROUTE) - refreshes_before == rounds
        stored = await env.live.container.services.integrations.vault.load(
            env.org_id, integration.id, OAUTH_TOKENS
        )
        assert stored is not None
        grant = simulator.tokens.grant_for_refresh_token(stored.values["refresh_token"])
        assert grant is not None and not grant.revoked
        assert grant.refresh_tokens[-1] == stored.values["refresh_token"]
    finally:
        policy.access_token_ttl = saved_ttl
