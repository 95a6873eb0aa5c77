"""A Vigil server with particular settings, on the mock store, for one test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from testkit.live import LiveServer, open_store, start_live_server


@asynccontextmanager
async def serving(**settings: Any) -> AsyncIterator[LiveServer]:
    """Vigil under uvicorn with ``settings``, stopped and its database dropped after."""
    store = open_store("mock", None)
    live, server, task = await start_live_server(store, **settings)
    try:
        yield live
    finally:
        await store.drop()
        server.should_exit = True
        await task
