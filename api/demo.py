"""``vigil demo``: the simulator, the API and a seeded organization, ready to explore.

Everything is set up through the public GraphQL API, exactly as a frontend would do it:
connect both purposes, attach the admin key, sync with it (so every check is monitored),
import people (a few of them offboarded while their Confluence accounts are still active)
and add Confluence as a critical system, so some checks fail and can be fixed from GraphiQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from datetime import timedelta
from typing import Any

import httpx
import uvicorn

from api.app import create_app
from api.console import console_status
from api.logging import configure_logging
from api.settings import load_settings
from services.clock import utcnow
from services.models import CreatedApiKey, Organization
from simulator import RunningSimulator, Simulator, start_simulator
from simulator.oidc import OidcUser

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
    """Sync every integration with its current settings and wait until each has succeeded.

    Connecting starts a first sync at once, before the admin key is attached; a sync
    triggered while that one runs would only return it. So: let the runs already started
    end, then trigger a new run of each integration and wait for exactly those runs.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    listed = await client.run("{ integrations { id } }")
    ids = [i["id"] for i in listed["integrations"]]
    await _until_idle(client, deadline)
    wanted: dict[str, str] = {}
    for integration_id in ids:
        triggered = await client.run(
            """mutation($id: ID!) { triggerSync(integrationId: $id) {
                 syncRun { id } userErrors { code message } } }""",
            {"id": integration_id},
        )
        wanted[integration_id] = triggered["triggerSync"]["syncRun"]["id"]
    while True:
        runs = await client.run("{ integrations { id latestSyncRun { id status error } } }")
        latest = {i["id"]: i["latestSyncRun"] or {} for i in runs["integrations"]}
        ours = [latest.get(i, {}) for i in ids]
        if all(latest.get(i, {}).get("id") == run for i, run in wanted.items()) and all(
            s["status"] == "SUCCEEDED" for s in ours
        ):
            return
        failed = [s for s in ours if s.get("id") in wanted.values() and s["status"] == "FAILED"]
        if failed or loop.time() > deadline:
            raise DemoError(f"the syncs did not succeed: {ours}")
        await asyncio.sleep(0.5)


async def _until_idle(client: DemoClient, deadline: float) -> None:
    """Wait until no integration has a QUEUED or RUNNING sync."""
    while True:
        runs = await client.run("{ integrations { latestSyncRun { status } } }")
        active = [
            i["latestSyncRun"]["status"]
            for i in runs["integrations"]
            if i["latestSyncRun"] and i["latestSyncRun"]["status"] in ("QUEUED", "RUNNING")
        ]
        if not active:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise DemoError(f"the first syncs did not end: {active}")
        await asyncio.sleep(0.2)


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
    left = utcnow() - timedelta(days=10)
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
    # Bind first, so the public URL (the OAuth redirect_uri) names the port really bound.
    sock = _bind(host, port)
    bound = sock.getsockname()
    url = f"http://{_url_host(bound[0])}:{bound[1]}"
    with sock, start_simulator(sim) as running:  # the socket is closed however it ends
        settings = load_settings(  # a bad VIGIL_* setting is a ConfigurationError
            env="development",
            host=host,
            port=bound[1],
            public_url=url,
            allow_insecure_urls=True,
            atlassian_auth_url=running.auth_url,
            atlassian_api_url=running.api_url,
            oauth_client_id=sim.credentials.oauth_client_id,
            oauth_client_secret=sim.credentials.oauth_client_secret,
            # People sign in with the simulator's OpenID Connect provider (or Atlassian).
            oidc_issuer=f"{running.base_url}/oidc",
            oidc_client_id=sim.oidc.client_id,
            oidc_client_secret=sim.oidc.client_secret,
            oidc_name="Demo SSO",
            sync_interval_minutes=60,
            # Atlassian's consent sends the browser back to the console Vigil serves.
            frontend_url=f"{url}/console",
        )
        configure_logging("WARNING", json_lines=False)
        created: list[tuple[Organization, CreatedApiKey]] = []
        app = create_app(settings, bootstrap=lambda org, key: created.append((org, key)))
        server = uvicorn.Server(uvicorn.Config(app, log_config=None))
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            if task.done():
                task.result()
                raise DemoError("the API did not start")
            await asyncio.sleep(0.05)
        org, key = created[0]
        async with httpx.AsyncClient(timeout=30) as http:
            client = DemoClient(http, f"{url}/graphql", key.secret)
            await seed(client, running)
            await invite_people(client, [DEMO_PERSON.email, _atlassian_admin_email(sim)])
        print(
            _banner(url, running.base_url, org, key, console_status(settings.console_dir, url)),
            flush=True,
        )
        with contextlib.suppress(asyncio.CancelledError):
            await task


INVITE = """mutation($input: InviteMemberInput!) { inviteMember(input: $input) {
  invitation { id } userErrors { code message } } }"""
DEMO_PERSON = OidcUser("oidc-ada", "Ada Lovelace", "ada@acme.example")


async def invite_people(client: DemoClient, emails: list[str | None]) -> None:
    """Invite the demo's people as ADMINs (they sign in from the console)."""
    for email in emails:
        if email:
            await client.run(INVITE, {"input": {"email": email, "role": "ADMIN"}})


def _atlassian_admin_email(sim: Simulator) -> str | None:
    account = sim.site.get_account(sim.credentials.oauth_account_id)
    return account.email if account is not None else None


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0 picks a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise DemoError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _url_host(host: str) -> str:
    """The host as a URL names it (a wildcard address is reached through loopback)."""
    if host in ("0.0.0.0", ""):  # noqa: S104 - not binding, naming
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def _banner(url: str, sim_url: str, org: Organization, key: CreatedApiKey, console: str) -> str:
    return f"""
Vigil demo ready (embedded store: nothing persists).
  Console         {console}
  GraphiQL        {url}/graphql
  Sign in         on the console with "Demo SSO" as {DEMO_PERSON.name} (an invited ADMIN),
                  with Atlassian as the site's admin, or with the API key below
  ADMIN API key   {key.secret}
                  (GraphiQL headers: {{"Authorization": "Bearer {key.secret}"}})
  organization    {org.name} ({org.id})
  simulator       {sim_url}  (Confluence Cloud stand-in)
Try:  {{ checks {{ id title result {{ status reason failingItems(first: 5) {{ totalCount
                 edges {{ node {{ name reason }} }} }} }} }} }}
      {{ accounts(first: 5) {{ totalCount edges {{ node {{ displayName
                 identity {{ classification }} }} }} }} }}
Demo ready: listening on {url}
"""
