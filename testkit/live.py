"""A live Vigil: the app under uvicorn in the caller's event loop, on a store of either kind."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, ExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.routing import BaseRoute

from api.app import create_app
from api.container import Container
from api.serve import uvicorn_config
from api.settings import Settings
from services.crypto import generate_key
from services.store import Store
from services.store.client import connect
from testkit.mongo import wire_server


def open_store(kind: str, wire_url: str | None) -> Store:
    """A store on a fresh database: ``"mock"`` (mongomock-motor) or ``"wire"`` (at ``wire_url``)."""
    db_name = f"vigil_test_{uuid.uuid4().hex[:10]}"
    if kind == "mock":
        client, embedded = connect(None)
        return Store(client, db_name, embedded=embedded)
    assert wire_url is not None
    return Store.open(wire_url, db_name)


@asynccontextmanager
async def fresh_store(kind: str, wire_url: str | None) -> AsyncIterator[Store]:
    """``open_store`` with its indexes made; dropped and closed on the way out."""
    store = open_store(kind, wire_url)
    await store.ensure_indexes()
    try:
        yield store
    finally:
        await store.drop()
        store.close()


def open_bench_store(
    stack: ExitStack | AsyncExitStack, mongodb_url: str | None, kind: str
) -> tuple[Store, str]:
    """A benchmark's store on a fresh database, and its kind in words: at ``mongodb_url`` (a
    real MongoDB), else on a SecantusDB started for ``stack`` (``kind`` "wire"), else embedded
    (mongomock)."""
    db_name = f"vigil_bench_{uuid.uuid4().hex[:8]}"
    if mongodb_url:
        store, label = Store.open(mongodb_url, db_name), "mongodb"
    elif kind == "wire":
        url = stack.enter_context(wire_server())
        store, label, mongodb_url = Store.open(url, db_name), "wire (SecantusDB)", url
    else:
        client, embedded = connect(None)
        return Store(client, db_name, embedded=embedded), "embedded (mongomock)"
    _BENCH_URLS[store] = mongodb_url
    return store, label


# Where each benchmark store is, for a benchmark that starts another process on it.
_BENCH_URLS: weakref.WeakKeyDictionary[Store, str] = weakref.WeakKeyDictionary()


def bench_store_url(store: Store) -> str | None:
    """The URL of a store ``open_bench_store`` opened (None: embedded, in this process only)."""
    return _BENCH_URLS.get(store)


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

    async def settled(self) -> None:
        """Wait until the work earlier requests set off in the background has finished.

        A request returns before what it triggers is done: remediation runs, and the
        (coalesced) re-evaluation of the checks, which stores every evaluated check's
        ``evaluated_at`` even when nothing else changed. A test that compares stored state
        across a request settles first, or it sees an earlier request's writes as the new
        one's. (Without ``run_worker`` these are the server's only background writers.)
        """
        await self.container.remediation.wait_idle()
        await self.container.reevaluator.settle()


STARTUP_SECONDS = 60.0


async def start_live_server(
    store: Store,
    *,
    port: int | None = None,
    extra_routes: Callable[[Container], Sequence[BaseRoute]] | None = None,
    **settings: Any,
) -> tuple[LiveServer, uvicorn.Server, asyncio.Task[None]]:
    """Serve a Vigil app with uvicorn on a loopback port (default: a free one) in this loop;
    ``extra_routes`` (given the app's container) come before the app's own.

    The socket is bound here and handed to uvicorn, so no other process can take the port
    between choosing and binding it; the server is returned once it accepts connections (or
    this raises: a server that did not start never reaches the test as a refused request).
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", port or 0))
    port = int(sock.getsockname()[1])
    settings.setdefault("secret_key", generate_key())
    settings.setdefault("evidence_hmac_key", generate_key())
    settings.setdefault("allow_insecure_urls", True)
    settings.setdefault("public_url", f"http://127.0.0.1:{port}")
    # No scheduler unless a test asks for one: it would sync connected integrations by itself.
    settings.setdefault("run_worker", False)
    config = Settings(host="127.0.0.1", port=port, **settings)
    app = create_app(config, store=store)
    if extra_routes is not None:
        app.router.routes[0:0] = extra_routes(app.state.container)
    server = uvicorn.Server(uvicorn_config(app, config))  # what `vigil serve` runs
    task = asyncio.create_task(server.serve(sockets=[sock]))
    deadline = time.monotonic() + STARTUP_SECONDS
    while not server.started:  # uvicorn exposes a flag only
        if task.done():
            task.result()
            raise RuntimeError("uvicorn stopped before it started")
        if time.monotonic() > deadline:
            server.should_exit = True
            await task
            raise TimeoutError(f"uvicorn did not start within {STARTUP_SECONDS:.0f} s")
        await asyncio.sleep(0.02)
    return LiveServer(f"http://127.0.0.1:{port}", app.state.container), server, task


@asynccontextmanager
async def bench_server(
    mongodb_url: str | None, kind: str, **settings: Any
) -> AsyncIterator[tuple[LiveServer, Store, str]]:
    """Vigil under uvicorn on a benchmark's store (``open_bench_store``): the server, the store
    and its kind in words. On the way out the server stops and the store is dropped (an
    embedded one goes with the process)."""
    async with AsyncExitStack() as stack:
        store, label = open_bench_store(stack, mongodb_url, kind)
        live, server, task = await start_live_server(store, **settings)
        try:
            yield live, store, label
        finally:
            if not store.embedded:
                await store.drop()
            server.should_exit = True
            await task


@asynccontextmanager
async def live_server(
    kind: str = "mock", wire_url: str | None = None, **settings: Any
) -> AsyncIterator[LiveServer]:
    """Vigil under uvicorn on a fresh store, ``settings`` overriding the defaults; the store
    is dropped and the server stopped on the way out."""
    store = open_store(kind, wire_url)
    server_info, server, task = await start_live_server(store, **settings)
    try:
        yield server_info
    finally:
        await store.drop()
        server.should_exit = True
        await task
