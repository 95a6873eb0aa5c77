"""The ``vigil`` command line as an operator runs it: real processes, real sockets."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from services.crypto import generate_key

VIGIL = str(Path(sys.executable).with_name("vigil"))
ME = {"query": "{ me { role organization { id name } } }"}


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    env.update(extra)
    return env


@contextmanager
def serve(env: dict[str, str]) -> Iterator[tuple[str, list[str]]]:
    """Run ``vigil serve --port 0`` and yield its URL and the lines it printed."""
    errors = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen(
        [VIGIL, "serve", "--port", "0", "--no-worker"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=errors,
        text=True,
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if m := re.search(r"listening on (http://\S+)", line):
                yield m.group(1), lines
                return
        errors.seek(0)
        raise AssertionError(f"vigil serve did not start: {lines} {errors.read()}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        errors.close()


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [VIGIL, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_serve_on_the_embedded_store_prints_a_working_admin_key() -> None:
    with serve(_env(VIGIL_ENV="development")) as (url, lines):
        text = "".join(lines)
        key = re.search(r"(vgl_[A-Za-z0-9_\-]+)", text)
        assert key, text
        resp = httpx.post(
            f"{url}/graphql", json=ME, headers={"Authorization": f"Bearer {key.group(1)}"}
        )
        assert resp.status_code == 200
        assert resp.json()["data"]["me"]["role"] == "ADMIN"
        assert httpx.get(f"{url}/readyz").json()["embeddedStore"] is True


def _metric(text: str, name: str) -> float:
    found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert found, f"{name} not in /metrics"
    return float(found.group(1))


@pytest.mark.parametrize(
    ("setting", "thresholds"), [(None, (50000, 20, 100)), ("12345,7,9", (12345, 7, 9))]
)
def test_serve_sets_its_collector_and_shows_it_in_metrics(
    setting: str | None, thresholds: tuple[int, int, int]
) -> None:
    """ADR 024: the serving process's collector thresholds (the default or
    VIGIL_GC_THRESHOLDS), what it froze at start, and the seconds its collections took."""
    extra = {"VIGIL_GC_THRESHOLDS": setting} if setting is not None else {}
    with serve(_env(VIGIL_ENV="development", **extra)) as (url, _):
        text = httpx.get(f"{url}/metrics").text
    for generation, threshold in enumerate(thresholds):
        assert _metric(text, f'vigil_gc_threshold{{generation="{generation}"}}') == threshold
    assert _metric(text, "vigil_gc_frozen_objects") > 10_000  # modules, classes, the schema
    assert _metric(text, 'vigil_gc_pause_seconds_total{generation="2"}') >= 0


@pytest.mark.wire
def test_org_and_apikey_commands_against_a_real_database(wire_url: str) -> None:
    env = _env(
        VIGIL_MONGODB_URL=wire_url,
        VIGIL_MONGODB_DB=f"vigil_cli_{uuid.uuid4().hex[:8]}",
        VIGIL_SECRET_KEY=generate_key(),
        VIGIL_EVIDENCE_HMAC_KEY=generate_key(),
        # Sockets re-read their key only every minute: what closes one at once is the event.
        VIGIL_KEY_RECHECK_SECONDS="60",
    )
    created = _run("org", "create", "Acme Corp", env=env)
    assert created.returncode == 0, created.stderr
    org_id = re.search(r"organization id: (\S+)", created.stdout).group(1)  # type: ignore[union-attr]
    admin_key = re.search(r"(vgl_\S+)", created.stdout).group(1)  # type: ignore[union-attr]
    viewer = _run("apikey", "create", "--org", org_id, "--role", "VIEWER", env=env)
    assert viewer.returncode == 0, viewer.stderr
    viewer_id = re.search(r"API key id: (\S+)", viewer.stdout).group(1)  # type: ignore[union-attr]
    viewer_key = re.search(r"(vgl_\S+)", viewer.stdout).group(1)  # type: ignore[union-attr]
    bad = _run("apikey", "create", "--org", "org_nope", "--role", "VIEWER", env=env)
    assert bad.returncode == 1 and "not found" in bad.stderr
    with serve(env) as (url, lines):
        assert not any("vgl_" in line for line in lines), "no bootstrap org when one exists"
        for key, role in ((admin_key, "ADMIN"), (viewer_key, "VIEWER")):
            resp = httpx.post(f"{url}/graphql", json=ME, headers={"Authorization": f"Bearer {key}"})
            assert resp.json()["data"]["me"] == {
                "role": role,
                "organization": {"id": org_id, "name": "Acme Corp"},
            }
        # A socket of the key, held by the server process; the revocation comes from another.
        with connect(
            url.replace("http://", "ws://") + "/graphql",
            subprotocols=[Subprotocol("graphql-transport-ws")],
        ) as ws:
            init = {"authorization": f"Bearer {viewer_key}"}
            ws.send(json.dumps({"type": "connection_init", "payload": init}))
            assert json.loads(ws.recv(timeout=10))["type"] == "connection_ack"
            revoked = _run("apikey", "revoke", viewer_id, env=env)
            done = time.monotonic()
            assert revoked.returncode == 0, revoked.stderr
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=10)
            took = time.monotonic() - done
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
        assert took < 1.0, f"the socket closed {took:.2f} s after `vigil apikey revoke`"
        resp = httpx.post(
            f"{url}/graphql", json=ME, headers={"Authorization": f"Bearer {viewer_key}"}
        )
        assert resp.status_code == 401


def test_production_refuses_to_start_without_a_secret_key() -> None:
    result = _run("serve", "--port", "0", env=_env(VIGIL_ENV="production"))
    assert result.returncode == 2
    assert "VIGIL_SECRET_KEY" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "command",
    [
        ("org", "create", "Acme"),
        ("apikey", "create", "--org", "org_x", "--role", "VIEWER"),
        ("sync", "--org", "org_x", "--purpose", "POLICY"),
        ("worker",),
    ],
    ids=lambda c: c[0],
)
def test_operator_commands_refuse_the_embedded_store(command: tuple[str, ...]) -> None:
    # The worker too: on its own embedded store it would sync nothing anyone sees.
    result = _run(*command, env=_env())
    assert result.returncode == 2 and "VIGIL_MONGODB_URL" in result.stderr, result
    assert "Traceback" not in result.stderr
