"""Real `vigil worker` processes beside the test's own container, on one wire-server database
(tests/sync/test_workers.py, tests/watch/test_crash.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

from api.container import Container
from api.settings import Settings
from services.crypto import generate_key
from simulator import RunningSimulator

VIGIL = str(Path(sys.executable).with_name("vigil"))


def worker_settings(
    wire_url: str, db_prefix: str, running: RunningSimulator, **extra: str
) -> dict[str, str]:
    """The environment of the workers (and the test's container): a fresh database named
    ``db_prefix``…, the simulator's Atlassian URLs, a 0.2 s scheduler tick and a 2 s sync
    lease, then ``extra`` (``VIGIL_`` names)."""
    return {
        "VIGIL_MONGODB_URL": wire_url,
        "VIGIL_MONGODB_DB": f"{db_prefix}_{uuid.uuid4().hex[:8]}",
        "VIGIL_SECRET_KEY": generate_key(),
        "VIGIL_EVIDENCE_HMAC_KEY": generate_key(),
        "VIGIL_ALLOW_INSECURE_URLS": "true",
        "VIGIL_ATLASSIAN_API_URL": running.api_url,
        "VIGIL_ATLASSIAN_AUTH_URL": running.auth_url,
        "VIGIL_SCHEDULER_TICK_SECONDS": "0.2",
        "VIGIL_SYNC_LEASE_SECONDS": "2",
        **extra,
    }


async def started_container(settings: dict[str, str]) -> Container:
    """The test's own composition root on the workers' settings, without a worker of its own."""
    container = Container.build(
        Settings(
            **{k.removeprefix("VIGIL_").lower(): v for k, v in settings.items()}, run_worker=False
        )
    )
    await container.start()
    return container


class Workers:
    """The `vigil worker` processes a test starts, each logging to ``<name>.log`` in ``logs``."""

    def __init__(self, settings: dict[str, str], logs: Path) -> None:
        self.settings = settings
        self.logs = logs
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, **env: str) -> subprocess.Popen[bytes]:
        """Start one more, with ``env`` on top of the settings."""
        log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            [VIGIL, "worker"],
            env={**os.environ, **self.settings, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.started.append(proc)
        return proc

    def stop(self) -> None:
        """SIGTERM to those still running, then wait for each (10 s at most, then SIGKILL)."""
        for proc in self.started:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.started:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
