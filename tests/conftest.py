"""Shared fixtures: both stores, a live Vigil server, GraphQL clients."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn

from api.app import create_app
from api.container import Container
from api.serve import uvicorn_config
from api.settings import Settings
from services.crypto import generate_key
from services.store import Store
from services.store.client import connect
from tests.mongo import free_port, wire_server

STORE_KINDS = ["mock", "wire"]


@pytest.fixture(scope="module")
def wire_url() -> Iterator[str]:
    """URL of a real MongoDB wire-protocol server, fresh for each test module.

    One server per module keeps each server's data (and WiredTiger cache) small: SecantusDB
    slows to a crawl when a whole session's data accumulates in one instance.
    """
    with wire_server() as url:
        yield url


def open_store(kind: str, wire_url: str | None) -> Store:
    """A store on a fresh database of the given kind."""
    db_name = f"vigil_test_{uuid.uuid4().hex[:10]}"
    if kind == "mock":
        client, embedded = connect(None)
        return Store(client, db_name, embedded=embedded)
    assert wire_url is not None
    return Store.open(wire_url, db_name)


@pytest.fixture(params=STORE_KINDS)
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """A fresh store, once on mongomock-motor and once on the wire server."""
    url = request.getfixturevalue("wire_url") if request.param == "wire" else None
    s = open_store(request.param, url)
    await s.ensure_indexes()
    try:
        yield s
    finally:
        await s.drop()
        s.close()


@pytest.fixture
async def wire_store(wire_url: str) -> AsyncIterator[Store]:
    """A fresh store on the wire server only (plans, sizes: what only a real server shows)."""
    s = open_store("wire", wire_url)
    await s.ensure_indexes()
    try:
        yield s
    finally:
        await s.drop()
        s.close()


@dataclass
class LiveServer:
    """A running Vigil API: its URL and its composition root."""

    url: str
    container: Container

    @property
    def graphql_url(self) -> str:
        return f"{self.url}/graphql"

    @property
    def ws_url(self) -> str:
        return self.graphql_url.replace("http://", "ws://", 1)


async def start_live_server(
    store: Store, *, port: int | None = None, **settings: Any
) -> tuple[LiveServer, uvicorn.Server, asyncio.Task[None]]:
    """Serve a Vigil app with uvicorn on a loopback port (default: a free one) in this loop."""
    port = port or free_port()
    settings.setdefault("secret_key", generate_key())
    settings.setdefault("evidence_hmac_key", generate_key())
    settings.setdefault("allow_insecure_urls", True)
    settings.setdefault("public_url", f"http://127.0.0.1:{port}")
    # No scheduler unless a test asks for one: it would sync connected integrations by itself.
    settings.setdefault("run_worker", False)
    config = Settings(host="127.0.0.1", port=port, **settings)
    app = create_app(config, store=store)
    server = uvicorn.Server(uvicorn_config(app, config))  # what `vigil serve` runs
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    return LiveServer(f"http://127.0.0.1:{port}", app.state.container), server, task


@pytest.fixture(params=STORE_KINDS)
async def live(request: pytest.FixtureRequest) -> AsyncIterator[LiveServer]:
    """Vigil under uvicorn, on each store kind."""
    url = request.getfixturevalue("wire_url") if request.param == "wire" else None
    store = open_store(request.param, url)
    server_info, server, task = await start_live_server(store)
    try:
        yield server_info
    finally:
        await store.drop()
        server.should_exit = True
        await task


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """A plain HTTP client."""
    async with httpx.AsyncClient(timeout=10) as client:
        yield client
