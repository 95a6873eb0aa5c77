"""Running the API (and, later, the worker) under uvicorn."""

from __future__ import annotations

import asyncio
import sys

import uvicorn

from api.app import create_app
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


async def serve(settings: Settings) -> None:
    """Serve the API until interrupted; prints the address it listens on."""
    configure_logging(settings.log_level, json_lines=settings.json_logs)
    app = create_app(settings, bootstrap=print_bootstrap)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        lifespan="on",
        proxy_headers=False,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started and not task.done():  # noqa: ASYNC110 - uvicorn exposes a flag only
        await asyncio.sleep(0.05)
    if server.started:
        host, port = server.servers[0].sockets[0].getsockname()[:2]
        print(f"Vigil listening on http://{host}:{port} (GraphQL at /graphql)", flush=True)
    await task
    if not server.started:
        sys.exit(1)
