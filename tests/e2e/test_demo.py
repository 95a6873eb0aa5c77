"""`vigil demo` as a newcomer runs it: a real process, seeded through the public API."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

VIGIL = str(Path(sys.executable).with_name("vigil"))


def test_demo_serves_a_seeded_organization_with_failing_checks() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    with tempfile.TemporaryFile(mode="w+") as errors:
        proc = subprocess.Popen(
            [VIGIL, "demo", "--port", "0"],
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
            query = """{ integrations { purpose status latestSyncRun { status } }
                        checks { id result { status failingItems { resourceId } } }
                        people(first: 1) { totalCount } }"""
            resp = httpx.post(
                f"{url}/graphql",
                json={"query": query},
                headers={"Authorization": f"Bearer {key.group(1)}"},
                timeout=30,
            )
            data = resp.json()["data"]
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
        finally:
            proc.terminate()
            proc.wait(timeout=15)
