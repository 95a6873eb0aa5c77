"""``vigil demo``: the simulator, the API and a seeded organization, ready to explore.

Everything is set up through the public GraphQL API, exactly as a frontend would do it:
connect both purposes, attach the admin key, wait for the first syncs, import people
(a few of them offboarded while their Confluence accounts are still active) and add
Confluence as a critical system, so some checks fail and can be fixed from GraphiQL.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import uvicorn

from api.app import create_app
from api.logging import configure_logging
from api.settings import Settings
from services.models import CreatedApiKey, Organization
from simulator import RunningSimulator, Simulator, start_simulator

ROLES = ("Engineer", "Engineer", "Designer", "Sales", "Support", "Finance")


class DemoError(RuntimeError):
    """The demo could not be set up (a GraphQL call answered with errors)."""


class DemoClient:
    """Minimal GraphQL-over-HTTP client with the demo's ADMIN key."""

    def __init__(self, http: httpx.AsyncClient, url: str, key: str) -> None:
        self._http, self._url, self._key = http, url, key

    async def run(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Execute and return ``data``; errors and ``userErrors`` raise ``DemoError``."""
        resp = await self._http.post(
            self._url,
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {self._key}"},
        )
        body = resp.json()
        if resp.status_code != 200 or body.get("errors"):
            raise DemoError(f"GraphQL call failed: {body.get('errors') or resp.text}")
        data: dict[str, Any] = body["data"]
        for value in data.values():
            if isinstance(value, dict) and value.get("userErrors"):
                raise DemoError(f"GraphQL call refused: {value['userErrors']}")
        return data


async def seed(client: DemoClient, sim: RunningSimulator, *, sync_timeout: float = 120) -> None:
    """Connect, sync, import people and add Confluence as a critical system."""
    creds = sim.sim.credentials
    admin = creds.admin_token
    await client.run(
        """mutation($i: ConnectApiTokenInput!) { connectConfluenceApiToken(input: $i) {
             integration { id } userErrors { code message } } }""",
        {
            "i": {
                "purpose": "POLICY",
                "domain": sim.site_url(),
                "email": admin.email,
                "apiToken": admin.token,
                "confirmCredentials": True,
            }
        },
    )
    access = await client.run(
        """mutation($i: ConnectClientCredentialsInput!) {
             connectConfluenceClientCredentials(input: $i) {
               integration { id } userErrors { code message } } }""",
        {
            "i": {
                "purpose": "ACCESS_REVIEW",
                "clientId": creds.cc_client_id,
                "clientSecret": creds.cc_client_secret,
                "siteUrl": sim.site_url(),
            }
        },
    )
    access_id = access["connectConfluenceClientCredentials"]["integration"]["id"]
    await client.run(
        """mutation($i: SetAtlassianAdminKeyInput!) { setAtlassianAdminKey(input: $i) {
             integration { id } userErrors { code message } } }""",
        {"i": {"integrationId": access_id, "orgId": creds.org_id, "apiKey": creds.admin_api_key}},
    )
    await client.run("mutation { activateFrameworks(frameworks: [SOC2]) { userErrors { code } } }")
    await _sync_all(client, sync_timeout)
    await client.run(
        """mutation($p: [PersonInput!]!) {
             upsertPeople(input: $p) { userErrors { code message } } }""",
        {"p": people_from(sim)},
    )
    await client.run(
        """mutation { addCriticalSystem(input: {system: CONFLUENCE, reviewFrequencyDays: 365,
             accessRule: ALL_STAFF, allowedRoles: [], adminRoles: []}) {
             criticalSystem { id } userErrors { code message } } }"""
    )


async def _sync_all(client: DemoClient, timeout: float) -> None:
    """Trigger a sync of every integration and wait until each has succeeded."""
    listed = await client.run("{ integrations { id } }")
    for integration in listed["integrations"]:
        await client.run(
            """mutation($id: ID!) {
                 triggerSync(integrationId: $id) { userErrors { code message } } }""",
            {"id": integration["id"]},
        )
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        runs = await client.run("{ integrations { latestSyncRun { status error } } }")
        states = [i["latestSyncRun"] for i in runs["integrations"]]
        if all(s and s["status"] == "SUCCEEDED" for s in states):
            return
        failed = [s for s in states if s and s["status"] == "FAILED"]
        if failed or asyncio.get_running_loop().time() > deadline:
            raise DemoError(f"the first syncs did not succeed: {states}")
        await asyncio.sleep(0.5)


def people_from(sim: RunningSimulator) -> list[dict[str, Any]]:
    """HR records for the site's staff with visible emails; three have left already."""
    site = sim.sim.site
    staff = sorted(
        (
            a
            for a in site.accounts.values()
            if a.account_type == "atlassian" and a.email and a.account_status == "active"
        ),
        key=lambda a: a.account_id,
    )
    left = datetime.now(UTC) - timedelta(days=10)
    people = []
    for n, account in enumerate(staff):
        offboarded = n % 15 == 7
        people.append(
            {
                "email": account.email,
                "name": account.display_name,
                "status": "OFFBOARDED" if offboarded else "ACTIVE",
                "jobRole": ROLES[n % len(ROLES)],
                "startDate": "2024-01-15",
                "offboardedAt": left.isoformat() if offboarded else None,
            }
        )
    return people


async def run_demo(port: int = 8000, host: str = "127.0.0.1") -> None:
    """Start everything, seed it, print how to explore, serve until interrupted."""
    sim = Simulator.generate(users=150, groups=12, pages=40, seed=7)
    with start_simulator(sim) as running:
        settings = Settings(
            env="development",
            host=host,
            port=port,
            allow_insecure_urls=True,
            atlassian_auth_url=running.auth_url,
            atlassian_api_url=running.api_url,
            oauth_client_id=sim.credentials.oauth_client_id,
            oauth_client_secret=sim.credentials.oauth_client_secret,
            sync_interval_minutes=60,
        )
        configure_logging("WARNING", json_lines=False)
        created: list[tuple[Organization, CreatedApiKey]] = []
        app = create_app(settings, bootstrap=lambda org, key: created.append((org, key)))
        server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_config=None))
        task = asyncio.create_task(server.serve())
        while not server.started:
            if task.done():
                task.result()
                raise DemoError("the API did not start")
            await asyncio.sleep(0.05)
        bound = server.servers[0].sockets[0].getsockname()
        url = f"http://{bound[0]}:{bound[1]}"
        org, key = created[0]
        async with httpx.AsyncClient(timeout=30) as http:
            await seed(DemoClient(http, f"{url}/graphql", key.secret), running)
        print(_banner(url, running.base_url, org, key), flush=True)
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _banner(url: str, sim_url: str, org: Organization, key: CreatedApiKey) -> str:
    return f"""
Vigil demo ready (embedded store: nothing persists).
  GraphiQL        {url}/graphql
  ADMIN API key   {key.secret}
                  (GraphiQL headers: {{"Authorization": "Bearer {key.secret}"}})
  organization    {org.name} ({org.id})
  simulator       {sim_url}  (Confluence Cloud stand-in)
Try:  {{ checks {{ id title result {{ status reason failingItems {{ name reason }} }} }} }}
      {{ accounts(first: 5) {{ totalCount edges {{ node {{ displayName
                 identity {{ classification }} }} }} }} }}
Demo ready: listening on {url}
"""
