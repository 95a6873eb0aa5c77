"""Running the API (and, later, the worker) under uvicorn."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import uvicorn

from api.app import create_app
from api.console import console_status
from api.logging import configure_logging
from api.runtime import prepare_process
from api.settings import Settings
from api.transport import http_protocol, websocket_protocol
from services.models import CreatedApiKey, Organization


def print_bootstrap(org: Organization, created: CreatedApiKey) -> None:
    """Show the first organization's ADMIN key once, on stdout (never in the log)."""
    print(
        "\n"
        f"Created organization {org.name!r} (id {org.id}).\n"
        f"Its ADMIN API key, shown only this once:\n\n    {created.secret}\n\n"
        "Use it as:  Authorization: Bearer <key>\n",
        flush=True,
    )


def uvicorn_config(app: Any, settings: Settings) -> uvicorn.Config:
    """How ``vigil serve`` runs the app (tests and benchmarks serve with the same).

    WebSocket frames are not compressed (no permessage-deflate): with it every socket keeps
    its own zlib state (about 40 KB each) and compresses every frame itself, so the one
    payload serialised for all subscribers of a change (``api.fanout``) would be compressed
    again for each of them.

    Bounds on every connection (SECURITY.md, "Abuse of the API"): request headers within
    ``headers_timeout_seconds`` and 64 KB, idle keep-alive connections closed after
    ``keep_alive_seconds``, at most ``max_connections`` connections and requests at once
    (503 beyond), incoming WebSocket messages of at most ``max_body_bytes`` and 16 waiting,
    a ping every 20 s that must be answered within 20 s; the protocols of ``api.transport``
    drop a connection whose client stops reading instead of keeping what it did not read.
    Clients are the peers unless ``trusted_proxies`` is set (``api.app``), so uvicorn's own
    proxy-header handling stays off.
    """
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        lifespan="on",
        proxy_headers=False,
        http=http_protocol(settings.headers_timeout_seconds),
        ws=websocket_protocol(settings.send_timeout_seconds),
        ws_per_message_deflate=False,
        ws_max_size=settings.max_body_bytes,
        ws_max_queue=16,
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        timeout_keep_alive=settings.keep_alive_seconds,
        limit_concurrency=settings.max_connections,
    )


async def serve(settings: Settings) -> None:
    """Serve the API until interrupted; prints the address it listens on."""
    configure_logging(settings.log_level, json_lines=settings.json_logs)
    app = create_app(settings, bootstrap=print_bootstrap)
    server = uvicorn.Server(uvicorn_config(app, settings))
    prepare_process(settings.collector_thresholds)
    task = asyncio.create_task(server.serve())
    while not server.started and not task.done():  # noqa: ASYNC110 - uvicorn exposes a flag only
        await asyncio.sleep(0.05)
    if server.started:
        host, port = server.servers[0].sockets[0].getsockname()[:2]
        url = f"http://{host}:{port}"
        print(f"Vigil listening on {url} (GraphQL at /graphql)", flush=True)
        print(f"Console: {console_status(settings.console_dir, url)}", flush=True)
    await task
    if not server.started:
        sys.exit(1)
