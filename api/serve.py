"""Running the API (and, later, the worker) under uvicorn."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import uvicorn

from api.app import create_app
from api.console import console_status
from api.logging import configure_logging
from api.settings import Settings
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
    """How ``vigil serve`` runs the app (``bench/fanout.py`` serves with the same).

    WebSocket frames are not compressed (no permessage-deflate): with it every socket keeps
    its own zlib state (about 40 KB each) and compresses every frame itself, so the one
    payload serialised for all subscribers of a change (``api.fanout``) would be compressed
    again for each of them.
    """
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        lifespan="on",
        proxy_headers=False,
        ws_per_message_deflate=False,
    )


async def serve(settings: Settings) -> None:
    """Serve the API until interrupted; prints the address it listens on."""
    configure_logging(settings.log_level, json_lines=settings.json_logs)
    app = create_app(settings, bootstrap=print_bootstrap)
    server = uvicorn.Server(uvicorn_config(app, settings))
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
