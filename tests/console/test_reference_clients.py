"""The clients frontend teams use, against Vigil under uvicorn (`console/e2e/reference-clients.mjs`
in Node, with the console's locked packages):

- graphql-ws, the reference `graphql-transport-ws` client, set to retry forever: a refused
  key and a key revoked mid-subscription end the subscription with 4401 after one
  connection (graphql-ws treats 4401 as fatal; it retried the 4403 Vigil sent before);
- urql with @urql/exchange-graphcache, a normalised cache: a `checkResultUpdated` push that
  selects `check { id result { id } }` updates the cached `checks` by itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from services.models import Role
from testkit.people import add_confluence_system, import_people
from tests.conftest import served_site
from tests.console.node import CONSOLE, run_node
from tests.e2e.access_support import connect_access_review, sync
from tests.e2e.connect_support import Env, worker_env_fixture

SCRIPT = "e2e/reference-clients.mjs"

pytestmark = [
    pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed"),
    pytest.mark.skipif(
        not (CONSOLE / "node_modules" / "@urql" / "exchange-graphcache").exists(),
        reason="the console's packages are not installed: run `make console`",
    ),
]

STAFF = """{ accounts(filter: {classification: STAFF, status: ACTIVE}, first: 1) {
  edges { node { identity { person { id } } } } } }"""


def node_flags() -> list[str]:
    """Node 22 has a WebSocket of its own; Node 20 needs a flag for it."""
    probe = subprocess.run(
        ["node", "-e", "process.exit(typeof WebSocket === 'function' ? 0 : 1)"], check=False
    )
    return [] if probe.returncode == 0 else ["--experimental-websocket"]


async def run_script(part: str, env: Env, **extra: str) -> str:
    returncode, text = await run_node(
        [*node_flags(), SCRIPT, part],
        {**os.environ, "VIGIL_URL": env.live.url, "VIGIL_ADMIN_KEY": env.key, **extra},
        timeout=60,
        what=f"{SCRIPT} {part}",
    )
    sys.stdout.write(text)
    assert returncode == 0, text
    assert "reference clients: ok" in text
    return text


clients_sim = served_site(users=20, groups=3, pages=2, seed=27)
env = worker_env_fixture("clients_sim")


async def test_graphql_ws_does_not_retry_a_refused_or_revoked_key(env: Env) -> None:
    services = env.live.container.services
    viewer = await services.api_keys.create_api_key_for(env.org_id, Role.VIEWER, "console")
    text = await run_script(
        "socket", env, VIGIL_VIEWER_KEY=viewer.secret, VIGIL_VIEWER_KEY_ID=viewer.key.id
    )
    assert "refused key: closed 4401" in text and "revoked key: closed 4401" in text


async def test_a_normalised_cache_merges_a_pushed_result_into_checks(env: Env) -> None:
    await sync(env, await connect_access_review(env))
    await add_confluence_system(env)
    site = env.sim.sim.site
    operators = set(site.operators.values())  # Vigil signs in as one of them: keep it
    staff = [
        a
        for a in sorted(site.accounts.values(), key=lambda a: a.account_id)
        if a.account_type == "atlassian"
        and a.email
        and a.account_status == "active"
        and a.account_id not in operators
    ]
    people = [{"email": a.email, "name": a.display_name} for a in staff]
    await import_people(env, people)
    linked = (await env.gql(STAFF))["accounts"]["edges"]  # emails Vigil can see
    person = linked[0]["node"]["identity"]["person"]["id"]
    await run_script("graphcache", env, OFFBOARD_PERSON_ID=person)
