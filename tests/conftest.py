"""Shared fixtures: both stores, a live Vigil server, GraphQL clients (over ``testkit``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from services.store import Store
from simulator import RunningSimulator, Simulator, generate_site, start_simulator
from testkit.live import LiveServer, fresh_store, live_server, open_store
from testkit.mongo import wire_server

STORE_KINDS = ["mock", "wire"]


def named_cases(argnames: tuple[str, ...], cases: list[tuple[Any, ...]]) -> pytest.MarkDecorator:
    """``parametrize`` over a table of cases whose first column names each (its test id)."""
    return pytest.mark.parametrize(argnames, cases, ids=[c[0] for c in cases])


def served_site(*, users: int, groups: int, pages: int, seed: int, latency_ms: float = 0) -> object:
    """A module-scoped fixture: a simulator over a generated site on a free loopback port,
    every request waiting ``latency_ms`` (none by default). Assign it to the fixture's name:
    ``plan_sim = served_site(users=700, groups=30, pages=10, seed=8)``."""

    @pytest.fixture(scope="module")
    def served() -> Iterator[RunningSimulator]:
        sim = Simulator(generate_site(users=users, groups=groups, pages=pages, seed=seed))
        if latency_ms:
            sim.faults.configure(latency_ms=latency_ms)
        with start_simulator(sim) as running:
            yield running

    return served


def wire_url_for(request: pytest.FixtureRequest, kind: str) -> str | None:
    """The module's wire server URL for store kind "wire" (started on first use); None for
    "mock"."""
    return request.getfixturevalue("wire_url") if kind == "wire" else None


@pytest.fixture(scope="module")
def wire_url() -> Iterator[str]:
    """URL of a real MongoDB wire-protocol server, fresh for each test module.

    One server per module keeps each server's data (and WiredTiger cache) small: SecantusDB
    slows to a crawl when a whole session's data accumulates in one instance.
    """
    with wire_server() as url:
        yield url


@pytest.fixture(params=STORE_KINDS)
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """A fresh store, once on mongomock-motor and once on the wire server."""
    async with fresh_store(request.param, wire_url_for(request, request.param)) as s:
        yield s


@pytest.fixture
async def wire_store(wire_url: str) -> AsyncIterator[Store]:
    """A fresh store on the wire server only (plans, sizes: what only a real server shows)."""
    async with fresh_store("wire", wire_url) as s:
        yield s


@pytest.fixture
async def two_wire_clients(wire_url: str) -> AsyncIterator[tuple[Store, Store]]:
    """Two clients of one fresh database on the wire server, each with its own connection
    pool (what two processes share: rate-limit buckets, checkpoints)."""
    first = open_store("wire", wire_url)
    second = Store.open(wire_url, first._db.name)
    await first.ensure_indexes()
    try:
        yield first, second
    finally:
        await first.drop()
        first.close()
        second.close()


@pytest.fixture(params=STORE_KINDS)
async def live(request: pytest.FixtureRequest) -> AsyncIterator[LiveServer]:
    """Vigil under uvicorn, on each store kind."""
    async with live_server(request.param, wire_url_for(request, request.param)) as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """A plain HTTP client."""
    async with httpx.AsyncClient(timeout=10) as client:
        yield client
