"""The CLI entry: flags → simulator, the start-up banner, and a real process serving."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import time
from pathlib import Path

import httpx

from api import cli as vigil_cli
from simulator.cli import banner, build_simulator, parse_args, simulator_command
from tests.simulator.support import small_site_json

ROOT = Path(__file__).resolve().parents[2]


def test_flags_match_simulator_command_keywords() -> None:
    args = parse_args(["--port", "0", "--users", "5", "--fault-429", "0.5", "--jitter-ms", "3"])
    served = set(inspect.signature(simulator_command).parameters) - {"site_and_faults"}
    built = set(inspect.signature(build_simulator).parameters) - {"site_names"}
    assert set(args) <= served | built
    assert args["port"] == 0 and args["users"] == 5 and args["fault_429"] == 0.5
    # `vigil simulator` passes its options by name too.
    vigil_options = set(inspect.signature(vigil_cli.simulator).parameters) - {"ctx"}
    assert vigil_options <= served | built


def test_build_simulator_with_faults_and_sites() -> None:
    sim = build_simulator(
        users=10,
        groups=4,
        pages=3,
        seed=2,
        site_names=("a", "b"),
        fault_503=0.25,
        latency_ms=5,
        quota_points=1000,
    )
    assert list(sim.sites) == ["a", "b"]
    assert sim.faults.config.rate_503 == 0.25 and sim.faults.config.quota_limit == 1000
    text = banner(sim, "http://127.0.0.1:1234")
    creds = sim.credentials
    for expected in (
        "http://127.0.0.1:1234/auth",
        "http://127.0.0.1:1234/site/b",
        creds.admin_token.token,
        creds.oauth_client_secret,
        creds.admin_api_key,
        "Confluence admin: yes",
        "Confluence admin: no",
        sim.site.cloud_id,
    ):
        assert expected in text


def test_build_simulator_with_varied_access() -> None:
    plain = build_simulator(users=60, groups=6, pages=0, seed=4)
    varied = build_simulator(users=60, groups=6, pages=0, seed=4, access="varied")
    assert not plain.site.direct_roles and varied.site.direct_roles
    assert parse_args(["--access", "varied"])["access"] == "varied"


def test_build_simulator_from_site_json(tmp_path: Path) -> None:
    path = tmp_path / "site.json"
    path.write_text(json.dumps(small_site_json({"g": 3})))
    sim = build_simulator(site_json=str(path))
    assert sim.site.name == "tiny" and len(sim.site.members_of("g-g")) == 3
    assert sim.credentials.admin_token.email == "admin@tiny.example"


def test_module_entry_serves_and_prints_credentials() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulator",
            "--port",
            "0",
            "--users",
            "20",
            "--groups",
            "4",
            "--pages",
            "5",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 20
        base = ""
        while not base and time.monotonic() < deadline:
            line = process.stdout.readline()
            if "base URL" in line:
                base = line.split()[-1]
        assert base.startswith("http://127.0.0.1:")
        response = httpx.get(f"{base}/site/acme/_edge/tenant_info", timeout=5)
        assert response.status_code == 200 and "cloudId" in response.json()
    finally:
        process.terminate()
        process.wait(timeout=10)
