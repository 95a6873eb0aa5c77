"""`vigil demo` as a newcomer runs it: a real process, seeded through the public API."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

VIGIL = str(Path(sys.executable).with_name("vigil"))
START_OAUTH = """mutation { startConfluenceOAuth(input: {purpose: POLICY, confirmAdminAccess: true}) {
  authorizationUrl userErrors { code message } } }"""
DISCONNECT = "mutation($id: ID!) { disconnectIntegration(id: $id) { userErrors { code } } }"


def gql(url: str, key: str, query: str, variables: dict[str, Any] | None = None) -> Any:
    response = httpx.post(
        f"{url}/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def test_demo_serves_a_seeded_organization_with_failing_checks() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    env["VIGIL_PORT"] = "0"  # as `make demo` passes it: any free port, named in the banner
    with tempfile.TemporaryFile(mode="w+") as errors:
        proc = subprocess.Popen(
            [VIGIL, "demo"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
        try:
            assert proc.stdout is not None
            lines: list[str] = []
            deadline = time.monotonic() + 120
            url = None
            while time.monotonic() < deadline and url is None:
                line = proc.stdout.readline()
                if not line:
                    break
                lines.append(line)
                if m := re.search(r"Demo ready: listening on (http://\S+)", line):
                    url = m.group(1)
            errors.seek(0)
            assert url, f"demo did not start: {''.join(lines)} {errors.read()}"
            key = re.search(r"ADMIN API key\s+(vgl_\S+)", "".join(lines))
            assert key
            query = """{ integrations { id purpose status latestSyncRun { status } }
                        checks { id result { status failingItems(first: 500) { totalCount edges { node { resourceId } } } } }
                        people(first: 1) { totalCount } }"""
            data = gql(url, key.group(1), query)
            assert {
                (i["purpose"], i["status"], i["latestSyncRun"]["status"])
                for i in data["integrations"]
            } == {
                ("ACCESS_REVIEW", "CONNECTED", "SUCCEEDED"),
                ("POLICY", "CONNECTED", "SUCCEEDED"),
            }
            assert data["people"]["totalCount"] > 50
            statuses = {c["id"]: c["result"]["status"] for c in data["checks"] if c["result"]}
            assert statuses["confluence-offboarded-access-removed"] == "FAILING"
            assert statuses["confluence-document-setup"] == "FAILING"
            assert "FAILING" in statuses.values() and len(statuses) >= 5
            # Its sync ran with the admin key: every check is monitored (MFA included).
            unmonitored = [c for c, status in statuses.items() if status == "NOT_MONITORED"]
            assert unmonitored == [], statuses
            assert statuses["confluence-mfa-enabled"] in ("PASSING", "FAILING")
            assert {c["id"] for c in data["checks"]} == set(statuses)  # each one has a result

            # The OAuth redirect names the port the demo really listens on (last: it
            # disconnects the POLICY integration to start connecting it again by OAuth).
            policy = next(i["id"] for i in data["integrations"] if i["purpose"] == "POLICY")
            gql(url, key.group(1), DISCONNECT, {"id": policy})
            started = gql(url, key.group(1), START_OAUTH)["startConfluenceOAuth"]
            assert started["authorizationUrl"], started
            query_string = parse_qs(urlsplit(started["authorizationUrl"]).query)
            assert query_string["redirect_uri"] == [f"{url}/oauth/confluence/callback"]
        finally:
            proc.terminate()
            proc.wait(timeout=15)
