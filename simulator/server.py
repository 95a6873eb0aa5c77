"""Serving the simulator with uvicorn: in a background thread (tests) or in the foreground."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

import uvicorn

from simulator.app import create_simulator_app
from simulator.core import Simulator


@dataclass(eq=False, repr=False)
class RunningSimulator:
    """A simulator served on a loopback port; stop() (or leave the `with` block) to end it."""

    sim: Simulator
    server: uvicorn.Server
    thread: threading.Thread
    host: str
    port: int

    @property
    def base_url(self) -> str:
        """http://host:port — the root of every simulated host."""
        return f"http://{self.host}:{self.port}"

    @property
    def auth_url(self) -> str:
        """Plays https://auth.atlassian.com (VIGIL_ATLASSIAN_AUTH_URL)."""
        return f"{self.base_url}/auth"

    @property
    def api_url(self) -> str:
        """Plays https://api.atlassian.com (VIGIL_ATLASSIAN_API_URL)."""
        return f"{self.base_url}/api"

    def site_url(self, name: str | None = None) -> str:
        """Plays https://{name}.atlassian.net (default: the first site)."""
        return f"{self.base_url}/site/{name or self.sim.site.name}"

    def confluence_api_base(self, cloud_id: str | None = None) -> str:
        """Plays https://api.atlassian.com/ex/confluence/{cloudId} (default: the first site)."""
        return f"{self.api_url}/ex/confluence/{cloud_id or self.sim.site.cloud_id}"

    def stop(self) -> None:
        """Stop serving and wait for the server thread to end."""
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def __enter__(self) -> RunningSimulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _config(sim: Simulator, host: str, port: int, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        create_simulator_app(sim),
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        lifespan="off",
        # Longer than any client's keep-alive expiry (httpx: 5 s): a server that closes an idle
        # connection as the client reuses it makes a spurious "server disconnected" retry.
        timeout_keep_alive=75,
        timeout_graceful_shutdown=2,
    )


def start_simulator(
    sim: Simulator | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    log_level: str = "warning",
    startup_timeout: float = 10.0,
) -> RunningSimulator:
    """Serve `sim` (default: a generated site) in a daemon thread; port 0 = a free port."""
    sim = sim or Simulator()
    sock = _bind(host, port)
    actual_port = int(sock.getsockname()[1])
    server = uvicorn.Server(_config(sim, host, actual_port, log_level))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="vigil-simulator", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError("the simulator did not start")
        time.sleep(0.01)
    return RunningSimulator(sim, server, thread, host, actual_port)


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    # Listen before announcing the URL: a client that connects before uvicorn starts
    # accepting waits in the backlog instead of being refused.
    sock.listen(128)
    return sock


def serve(
    sim: Simulator,
    *,
    host: str = "127.0.0.1",
    port: int = 8090,
    log_level: str = "info",
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve in the foreground until interrupted (Ctrl+C); on_ready gets the base URL."""
    sock = _bind(host, port)
    actual_port = int(sock.getsockname()[1])
    if on_ready is not None:
        shown = f"[{host}]" if ":" in host else host
        on_ready(f"http://{shown}:{actual_port}")
    uvicorn.Server(_config(sim, host, actual_port, log_level)).run(sockets=[sock])
