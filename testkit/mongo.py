"""Starting a real MongoDB wire-protocol server (SecantusDB) for the test session."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pymongo


def free_port() -> int:
    """A TCP port on loopback that nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _secantus_binary() -> str:
    candidate = Path(sys.executable).with_name("secantusd-py")
    if candidate.exists():
        return str(candidate)
    found = shutil.which("secantusd-py")
    if not found:
        raise RuntimeError("secantusd-py not found: install the project's dev extra")
    return found


@contextmanager
def wire_server() -> Iterator[str]:
    """Yield a MongoDB URL: ``VIGIL_TEST_MONGODB_URL`` or a SecantusDB subprocess."""
    external = os.environ.get("VIGIL_TEST_MONGODB_URL")
    if external:
        yield external
        return
    port = free_port()
    storage = tempfile.mkdtemp(prefix="vigil-secantus-")
    log = open(Path(storage) / "server.log", "wb")  # noqa: SIM115 - closed below
    command = [
        _secantus_binary(),
        *("--host", "127.0.0.1", "--port", str(port), "--storage-path", storage),
        # Head-room for WiredTiger's cache and a short oplog: a full cache stalls every
        # request in page-in/eviction (seen as a hung suite), and tests need no history.
        *("--cache-size", "2G", "--oplog-retention-seconds", "600"),
        *("--oplog-max-entries", "50000", "--log-level", "WARNING"),
    ]
    proc = subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"mongodb://127.0.0.1:{port}/?directConnection=true"
    try:
        _wait_ready(url, proc)
        yield url
    finally:
        # Its storage is thrown away below, so no graceful shutdown (which takes seconds).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        log.close()
        shutil.rmtree(storage, ignore_errors=True)


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"secantusd-py exited early with code {proc.returncode}")
        try:
            client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(
                url, serverSelectionTimeoutMS=500
            )
            client.admin.command("ping")
            client.close()
            return
        except pymongo.errors.PyMongoError:
            time.sleep(0.2)
    raise RuntimeError("secantusd-py did not become ready in time")
