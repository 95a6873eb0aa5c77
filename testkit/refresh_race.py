"""The token-refresh race (ADR 004), reusable at any size: consecutive ACCESS_REVIEW syncs
of an OAuth integration with short-lived access tokens, while another process uses (and
refreshes) the same integration and the admin key is set through GraphQL during each run.

Used by ``tests/e2e/test_refresh_race.py`` (small, bounded) and ``bench/refresh_race.py``
(20 runs of a 2,000-user site).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from services.integrations.models import Integration, Purpose
from services.sync.models import SyncRun, SyncRunStatus, SyncTrigger
from testkit.connect import Env, consent

ROOT = Path(__file__).resolve().parents[1]
TOKEN_ROUTE = "POST /oauth/token"
START = """mutation {
  startConfluenceOAuth(input: {purpose: ACCESS_REVIEW, confirmAdminAccess: true})
  { authorizationUrl userErrors { code } } }"""
SET_ADMIN_KEY = """mutation($input: SetAtlassianAdminKeyInput!) {
  setAtlassianAdminKey(input: $input) { integration { hasAdminKey } userErrors { code } } }"""


@dataclass
class RaceResult:
    runs: list[SyncRun] = field(default_factory=list)
    refreshes: int = 0
    other_process: str = ""
    reuses_within_window: int = 0
    reuses_after_window: int = 0


async def connect_oauth(env: Env) -> Integration:
    started = (await env.gql(START))["startConfluenceOAuth"]
    async with httpx.AsyncClient(timeout=10) as http:
        await consent(http, started["authorizationUrl"])
    integration = await env.live.container.store.integrations.get_live_for_purpose(
        organization_id=env.org_id, purpose=Purpose.ACCESS_REVIEW
    )
    assert integration is not None and integration.status.value == "CONNECTED"
    return integration


def _process_env(env: Env, wire_url: str) -> dict[str, str]:
    settings = env.live.container.settings
    secret = settings.secret_key.get_secret_value() if settings.secret_key else ""
    hmac = settings.evidence_hmac_key.get_secret_value() if settings.evidence_hmac_key else ""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")},
        "VIGIL_MONGODB_URL": wire_url,
        "VIGIL_MONGODB_DB": env.live.container.store._db.name,
        "VIGIL_SECRET_KEY": secret,
        "VIGIL_EVIDENCE_HMAC_KEY": hmac,
        "VIGIL_ATLASSIAN_AUTH_URL": settings.atlassian_auth_url,
        "VIGIL_ATLASSIAN_API_URL": settings.atlassian_api_url,
        "VIGIL_OAUTH_CLIENT_ID": settings.oauth_client_id,
        "VIGIL_OAUTH_CLIENT_SECRET": env.sim.sim.credentials.oauth_client_secret,
        "VIGIL_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }


async def refresh_race(
    env: Env, wire_url: str, *, runs: int, token_seconds: int = 20, loops: int = 4
) -> RaceResult:
    """``runs`` consecutive syncs; see the module docstring. ``env`` must be on ``wire_url``."""
    sim = env.sim.sim
    creds = sim.credentials
    integration = await connect_oauth(env)
    policy = sim.tokens.policy
    saved_ttl, policy.access_token_ttl = policy.access_token_ttl, token_seconds
    sim.clock.advance(saved_ttl + 5)  # the hour-long token of the consent expires: from now on
    # every access token lives ``token_seconds``
    result = RaceResult()
    within, after = sim.tokens.reuses_within_window, sim.tokens.reuses_after_window
    refreshes = sim.counters.count(TOKEN_ROUTE)
    key = {"integrationId": integration.id, "orgId": creds.org_id, "apiKey": creds.admin_api_key}
    queue, runner = env.live.container.sync.queue, env.live.container.sync.runner
    runs_repo = env.live.container.store.sync_runs
    try:
        with tempfile.TemporaryDirectory() as tmp:
            stop = os.path.join(tmp, "stop")
            other = subprocess.Popen(
                [sys.executable, "-m", "testkit.refresh_loop", integration.id, str(loops), stop],
                env=_process_env(env, wire_url),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
            try:
                assert other.stdout is not None
                line = await asyncio.to_thread(other.stdout.readline)
                assert line.strip() == "ready", other.stderr.read() if other.stderr else line
                for _ in range(runs):
                    await queue.submit(integration, SyncTrigger.MANUAL)
                    task = asyncio.create_task(runner.execute(integration.id))
                    while not task.done():  # the run is going: change things under it
                        active = await runs_repo.get_active(integration_id=integration.id)
                        if active is not None and active.status is SyncRunStatus.RUNNING:
                            break
                        await asyncio.sleep(0.01)
                    sim.clock.advance(token_seconds + 5)  # every token out there now expires
                    data = await env.gql(SET_ADMIN_KEY, {"input": key})
                    assert data["setAtlassianAdminKey"]["userErrors"] == []
                    run = await task
                    assert run is not None
                    result.runs.append(run)
            finally:
                Path(stop).touch()
                out, err = await asyncio.to_thread(other.communicate, timeout=60)
                result.other_process = out + err
    finally:
        policy.access_token_ttl = saved_ttl
    result.refreshes = sim.counters.count(TOKEN_ROUTE) - refreshes
    result.reuses_within_window = sim.tokens.reuses_within_window - within
    result.reuses_after_window = sim.tokens.reuses_after_window - after
    return result
