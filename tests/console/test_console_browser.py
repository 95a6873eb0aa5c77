"""The web console in a real browser: `console/e2e/console.e2e.mjs` (playwright-core driving
Debian's Chromium) against Vigil under uvicorn and the Confluence simulator (whose OpenID
Connect provider the browser signs in with).

This test seeds an organization through the public API (users and groups connected with an
API token and the Admin API key, people imported, Confluence critical; policy pages left for
the OAuth round trip the browser makes) and hands the script what it needs. The script signs
a person in through the provider's consent page, runs a query and a subscription with the
session cookie only, signs out and sees both refused, signs in with an API key, watches a check turn failing after an `offboardPerson`, remediates it to VERIFIED, links
an account, decides a review entry, syncs, connects through OAuth, verifies the evidence
chain, scans every screen with axe-core and photographs it. Screenshots go to
``$VIGIL_CONSOLE_SCREENSHOTS`` (``make console-screenshots`` sets docs/console) or a
temporary directory.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator import RunningSimulator, Simulator, generate_site, start_simulator
from testkit.conditions import until
from testkit.connect import atlassian_settings
from testkit.live import open_store, start_live_server
from testkit.mongo import free_port
from testkit.people import add_confluence_system, import_people
from tests.console.node import CONSOLE, run_node
from tests.e2e.access_support import connect_access_review, sync
from tests.e2e.connect_support import Env
from tests.e2e.signin_support import invite, signin_settings

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
OFFBOARDED = "confluence-offboarded-access-removed"
LINK_PERSON = "Robin Linkedperson"

pytestmark = [
    pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed"),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}"),
    pytest.mark.skipif(
        not (CONSOLE / "dist" / "index.html").exists()
        or not (CONSOLE / "node_modules" / "playwright-core").exists(),
        reason="the console is not built: run `make console`",
    ),
]

CREATE_KEY = """mutation { createApiKey(input: {role: VIEWER, name: "console viewer"}) {
  secret userErrors { code } } }"""
STAFF = """query { accounts(filter: {classification: STAFF, status: ACTIVE}, first: 500) {
  edges { node { accountId identity { method person { id } } } } } }"""
ACCOUNT = """query($id: ID!) { account(accountId: $id) { identity { classification } } }"""
CHECK = """query($id: ID!) { check(id: $id) { result { status } } }"""


@pytest.fixture
def console_sim() -> Iterator[RunningSimulator]:
    """A small site of its own: the browser test removes an account from its groups."""
    sim = Simulator(generate_site(users=30, groups=5, pages=4, seed=16))
    with start_simulator(sim) as running:
        yield running


async def _seed(env: Env) -> dict[str, str]:
    """The organization the browser works on; returns the ids the script needs."""
    site = env.sim.sim.site
    integration = await connect_access_review(env)
    await sync(env, integration)
    staff = sorted(
        (
            a
            for a in site.accounts.values()
            if a.account_type == "atlassian" and a.email and a.account_status == "active"
        ),
        key=lambda a: a.account_id,
    )
    operators = set(site.operators.values())
    # One account stays unidentified (no person has its email): the browser links it.
    unlinked = next(a for a in staff if a.account_id not in operators)
    people = [
        {"email": a.email, "name": a.display_name, "jobRole": "Engineer"}
        for a in staff
        if a is not unlinked
    ]
    people.append({"email": "robin@hr.example", "name": LINK_PERSON, "jobRole": "Engineer"})
    await import_people(env, people)
    await add_confluence_system(env)
    viewer = (await env.gql(CREATE_KEY))["createApiKey"]["secret"]

    edges = (await env.gql(STAFF))["accounts"]["edges"]
    target = next(
        e["node"]
        for e in edges
        if e["node"]["identity"]["method"] == "AUTO_EMAIL"
        and e["node"]["accountId"] not in operators
    )

    async def unidentified() -> bool:
        found = (await env.gql(ACCOUNT, {"id": unlinked.account_id}))["account"]
        return bool(found and found["identity"]["classification"] == "UNIDENTIFIED")

    async def passing() -> bool:
        result = (await env.gql(CHECK, {"id": OFFBOARDED}))["check"]["result"]
        return bool(result and result["status"] == "PASSING")

    await until(unidentified, what="the account to link to be unidentified", interval=0.05)
    await until(
        passing, what="the offboarding check to pass before the browser starts", interval=0.05
    )
    return {
        "VIGIL_VIEWER_KEY": viewer,
        "OFFBOARD_PERSON_ID": target["identity"]["person"]["id"],
        "OFFBOARD_ACCOUNT_ID": target["accountId"],
        "LINK_ACCOUNT_ID": unlinked.account_id,
        "LINK_ACCOUNT_NAME": unlinked.display_name,
        "LINK_PERSON_NAME": LINK_PERSON,
    }


async def test_the_console_in_a_real_browser(console_sim: RunningSimulator, tmp_path: Path) -> None:
    store = open_store("mock", None)
    port = free_port()
    live, server, task = await start_live_server(
        store,
        port=port,
        frontend_url=f"http://127.0.0.1:{port}/console",
        **atlassian_settings(console_sim),
        **signin_settings(console_sim),
        run_worker=True,
        scheduler_tick_seconds=3600,
    )
    try:
        org, created = await live.container.services.organizations.create_organization("Acme")
        env = Env(live, console_sim, org.id, created.secret)
        ids = await _seed(env)
        await invite(env, "ada@acme.example", "ADMIN")  # the person the browser signs in as
        # Each Atlassian request takes a little while, so a sync lasts long enough for its
        # progress bar to show (a 30-account site otherwise syncs between two frames).
        console_sim.sim.faults.configure(latency_ms=40)
        shots = os.environ.get("VIGIL_CONSOLE_SCREENSHOTS") or str(tmp_path / "screens")
        started = time.monotonic()
        returncode, text = await run_node(
            ["e2e/console.e2e.mjs"],
            {
                **os.environ,
                **ids,
                "VIGIL_URL": live.url,
                "VIGIL_ADMIN_KEY": created.secret,
                "SITE_URL": console_sim.site_url(),
                "SIGNIN_PROVIDER_NAME": "Acme SSO",
                "SIGNIN_PERSON_NAME": "Ada Lovelace",
                "SCREENSHOT_DIR": shots,
                "CHROMIUM": CHROMIUM,
            },
            timeout=240,
            what="the browser test",
        )
        sys.stdout.write(f"{text}browser part: {time.monotonic() - started:.1f} s wall\n")
        assert returncode == 0, text
        assert "console browser test:" in text
    finally:
        await store.drop()
        server.should_exit = True
        await task
