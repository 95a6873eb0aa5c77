"""Every shell command the README shows, run as a reader would: against a temporary server on a
real wire-protocol database, a simulated Confluence site, and a scratch directory.

Each command of a ```sh / ```bash block must be handled here, by running it (placeholders such
as ORG_ID, KEY_ID, $KEY and the default address replaced by this run's values) or by naming why
it cannot run here; a command the README gains and this test does not know fails the test.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from api import heartbeat
from simulator import RunningSimulator, Simulator, generate_site, start_simulator

pytestmark = pytest.mark.wire
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DEFAULT_URL = "http://127.0.0.1:8000"
BLOCK = re.compile(r"^```(?:sh|bash)\n(.*?)^```", re.MULTILINE | re.DOTALL)

# Commands that cannot run inside the test suite, and why (each is covered elsewhere).
NOT_HERE = {
    "make demo": "starts a long-running demo; tests/e2e/test_demo.py runs `vigil demo`",
    "make test": "would run this suite inside itself; tests/test_makefile.py checks it",
}


def _strip_comment(line: str) -> str:
    """The line without a trailing `# comment` (a `#` inside quotes is kept)."""
    quote = ""
    for i, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def readme_commands() -> list[str]:
    """Each command of the README's shell blocks (continuation lines joined)."""
    commands: list[str] = []
    for block in BLOCK.findall((ROOT / "README.md").read_text(encoding="utf-8")):
        pending = ""
        for raw in block.splitlines():
            line = _strip_comment(raw)
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            command = (pending + line).strip()
            pending = ""
            if command:
                commands.append(re.sub(r"\s+", " ", command))
    return commands


@dataclass
class Reader:
    """What a reader following the README has: a shell environment and a scratch directory."""

    cwd: Path
    env: dict[str, str]
    server_url: str = ""
    values: dict[str, str] = field(default_factory=dict)

    def substitute(self, command: str) -> str:
        for placeholder, value in self.values.items():
            command = re.sub(rf"\b{placeholder}\b", value, command)
        return command.replace(DEFAULT_URL, self.server_url or DEFAULT_URL)

    def bash(self, command: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-c", self.substitute(command)],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


@contextmanager
def _background(reader: Reader, command: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            ["bash", "-c", f"exec {reader.substitute(command)}"],
            cwd=reader.cwd,
            env=reader.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_for(check: object, what: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60  # a bound for a broken command, not a wait
    while not check():  # type: ignore[operator]
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"{what}: {log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def site() -> Iterator[RunningSimulator]:
    with start_simulator(Simulator(generate_site(users=40, groups=4, pages=6, seed=3))) as sim:
        yield sim


def _connect_access_review(reader: Reader, key: str, sim: RunningSimulator) -> None:
    """Setup the README leaves to the reader: an ACCESS_REVIEW integration to sync."""
    token = sim.sim.credentials.admin_token
    mutation = """mutation($i: ConnectApiTokenInput!) { connectConfluenceApiToken(input: $i) {
      integration { id } userErrors { code message } } }"""
    variables = {"i": {"purpose": "ACCESS_REVIEW", "domain": sim.site_url(), "email": token.email,
                       "apiToken": token.token, "confirmCredentials": True}}  # fmt: skip
    response = httpx.post(
        f"{reader.server_url}/graphql",
        json={"query": mutation, "variables": variables},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    payload = response.json()["data"]["connectConfluenceApiToken"]
    assert payload["integration"], payload


def test_readme_lists_the_commands_this_test_knows() -> None:
    commands = readme_commands()
    assert any(c.startswith("vigil sync ") for c in commands)
    assert any(c.startswith("curl ") for c in commands)
    assert "export VIGIL_EVIDENCE_HMAC_KEY" in " ".join(commands)


def test_every_readme_command_runs(wire_url: str, site: RunningSimulator, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"  # `vigil` as installed
    env.update(
        VIGIL_MONGODB_DB=f"vigil_readme_{uuid.uuid4().hex[:8]}",
        VIGIL_ALLOW_INSECURE_URLS="true",  # the simulated site is not *.atlassian.net
        VIGIL_ATLASSIAN_API_URL=site.api_url,
        VIGIL_ATLASSIAN_AUTH_URL=site.auth_url,
        VIGIL_WORKER_HEARTBEAT_FILE=str(tmp_path / "worker.heartbeat"),
        COLUMNS="100",
    )
    reader = Reader(cwd=tmp_path, env=env)
    (tmp_path / "people.csv").write_text(
        "email,name,status,job_role,start_date,offboarded_at\n"
        "ada@acme.test,Ada,ACTIVE,Engineer,2024-01-02,\n"
    )
    ran: list[str] = []
    with ExitStack() as stack:
        # The curl examples need a server and a key: they run once `vigil serve` is up.
        commands = sorted(readme_commands(), key=lambda c: c.startswith("curl "))
        for command in commands:
            if command in NOT_HERE:
                continue
            _run_one(reader, command, stack, site, tmp_path, wire_url)
            ran.append(command)
    assert len(ran) >= 10, ran


def _run_one(
    reader: Reader,
    command: str,
    stack: ExitStack,
    site: RunningSimulator,
    tmp_path: Path,
    wire_url: str,
) -> None:
    values = reader.values
    if m := re.fullmatch(r"export (VIGIL_\w+)=(.*)", command):
        name = m.group(1)
        if name == "VIGIL_MONGODB_URL":  # the reader's database: here, the test's wire server
            assert "replicaSet=" in m.group(2)
            reader.env[name] = wire_url
            return
        done = reader.bash(f'{command}; printf %s "${name}"')
        assert done.returncode == 0 and done.stdout, (command, done.stderr)
        reader.env[name] = done.stdout
        return
    if command.startswith("vigil org create "):
        done = reader.bash(command)
        assert done.returncode == 0, (command, done.stderr)
        values["ORG_ID"] = re.search(r"organization id: (\S+)", done.stdout)[1]  # type: ignore[index]
        key = re.search(r"ADMIN API key \(shown once\): (vgl_\S+)", done.stdout)[1]  # type: ignore[index]
        reader.env["KEY"] = reader.env["VIGIL_KEY"] = key
        return
    if command.startswith("vigil apikey create "):
        done = reader.bash(command)
        assert done.returncode == 0, (command, done.stderr)
        values["KEY_ID"] = re.search(r"API key id: (\S+)", done.stdout)[1]  # type: ignore[index]
        return
    if command.startswith("vigil apikey revoke "):
        done = reader.bash(command)
        assert done.returncode == 0 and "revoked" in done.stdout, (command, done.stderr)
        return
    if command.startswith("vigil user add "):
        done = reader.bash(command)
        assert done.returncode == 0, (command, done.stderr)
        assert re.search(r"\S+@\S+ is ADMIN of organization " + values["ORG_ID"], done.stdout)
        return
    if command.startswith("vigil serve "):
        # The synopsis `[--host H] [--port P] [--no-worker]`: any free port, no worker (the
        # `vigil sync` below runs the first sync itself).
        assert "[--no-worker]" in command
        log = tmp_path / "serve.log"
        proc = stack.enter_context(_background(reader, "vigil serve --port 0 --no-worker", log))

        def listening() -> bool:
            m = re.search(r"listening on (http://\S+)", log.read_text(errors="replace"))
            if m:
                reader.server_url = m.group(1)
            return bool(m)

        _wait_for(listening, "vigil serve did not start", proc, log)
        assert httpx.get(f"{reader.server_url}/readyz").json()["embeddedStore"] is False
        return
    if command == "vigil worker":
        log = tmp_path / "worker.log"
        beat = reader.env["VIGIL_WORKER_HEARTBEAT_FILE"]
        with _background(reader, command, log) as proc:
            _wait_for(lambda: heartbeat.read(beat), "vigil worker never ticked", proc, log)
        return
    if command.startswith("vigil sync "):
        _connect_access_review(reader, reader.env["KEY"], site)
        done = reader.bash(command, timeout=120)
        assert done.returncode == 0, (command, done.stdout, done.stderr)
        accounts = len(site.sim.site.member_account_ids())
        assert "succeeded" in done.stdout and f"{accounts} accounts" in done.stdout
        return
    if command.startswith("vigil evidence checkpoint "):
        done = reader.bash(command)
        assert done.returncode == 0, (command, done.stderr)
        point = json.loads(done.stdout)
        assert point["organizationId"] == values["ORG_ID"], point
        (tmp_path / "checkpoint.json").write_text(done.stdout)
        return
    if command.startswith("vigil evidence verify "):
        # `[--checkpoint FILE]` is optional: verify without it, then against the checkpoint.
        plain = command.replace(" [--checkpoint FILE]", "")
        for run in (plain, f"{plain} --checkpoint checkpoint.json"):
            done = reader.bash(run)
            assert done.returncode == 0 and done.stdout.startswith("valid:"), (run, done.stderr)
        return
    if command.startswith("vigil evidence public-key "):
        done = reader.bash(command)
        assert done.returncode == 0, (command, done.stderr)
        assert (tmp_path / "key.pem").read_text().startswith("-----BEGIN PUBLIC KEY-----")
        return
    if command.startswith("vigil audit export "):
        # The README's example period, moved to the last two days: this run's evidence is new.
        today = datetime.now(UTC).date()
        period = f"--from {today - timedelta(days=1)} --to {today}"
        run = re.sub(r"--from \S+ --to \S+", period, command)
        done = reader.bash(run, timeout=120)
        assert done.returncode == 0 and "evidence records" in done.stdout, (run, done.stderr)
        return
    if command.startswith("python3 verify_bundle.py "):
        # The verifier as the auditor gets it: alone, with only the package and the key.
        (tmp_path / "verify_bundle.py").write_bytes((ROOT / "verify_bundle.py").read_bytes())
        done = reader.bash(command.replace("python3 ", f"{sys.executable} -I ", 1))
        assert done.returncode == 0 and done.stdout.startswith("OK: "), (command, done.stdout)
        return
    if command == "vigil schema":
        done = reader.bash(command)
        assert done.returncode == 0
        assert done.stdout == (ROOT / "schema.graphql").read_text(encoding="utf-8")
        return
    if command.startswith("curl "):
        assert reader.server_url, "a curl command before the server runs"
        done = reader.bash(command)
        assert done.returncode == 0, (command, done.stderr)
        if "/graphql" in command:
            assert json.loads(done.stdout)["data"]["me"]["role"] == "ADMIN", done.stdout
        elif "/people/import" in command:
            assert json.loads(done.stdout)["imported"] == 1, done.stdout
        elif "/evidence/export" in command:
            out = re.search(r"-o (\S+)", command)[1]  # type: ignore[index]
            assert (tmp_path / out).read_text().startswith("sequence,"), (
                tmp_path / out
            ).read_text()
        else:
            raise AssertionError(f"a README curl this test does not check: {command}")
        return
    raise AssertionError(f"a README command this test does not know: {command}")
