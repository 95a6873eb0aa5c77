"""Fixtures for client tests (no network, no real sleeping)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import httpx
import pytest

from services.confluence.auth import BasicAuth
from services.confluence.client import ConfluenceClient
from services.confluence.retry import RetryPolicy, RetryStats
from simulator import RunningSimulator, Simulator, generate_site, start_simulator

from .support import FakeClock, FakeSleep, Router, make_client

SIM_NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
def router() -> Router:
    return Router()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sleep(clock: FakeClock) -> FakeSleep:
    return FakeSleep(clock)


@pytest.fixture
def stats() -> RetryStats:
    return RetryStats()


@pytest.fixture
def policy(sleep: FakeSleep, clock: FakeClock, stats: RetryStats) -> RetryPolicy:
    return RetryPolicy(sleep=sleep, clock=clock, uniform=lambda lo, hi: 1.0, observer=stats)


@pytest.fixture
async def http(router: Router) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(router)) as client:
        yield client


@pytest.fixture
def client(http: httpx.AsyncClient, policy: RetryPolicy) -> ConfluenceClient:
    return make_client(http, policy)


class SimSleep:
    """A retry sleep that advances the simulator's clock instead of waiting."""

    def __init__(self, running: RunningSimulator) -> None:
        self.running = running
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.running.sim.clock.advance(seconds)
        await asyncio.sleep(0)


@pytest.fixture(scope="module")
def served() -> Iterator[RunningSimulator]:
    """A simulator over a generated site (300 users, 25 groups, 80 pages) on loopback."""
    sim = Simulator(generate_site(users=300, groups=25, pages=80, seed=23, now=SIM_NOW), seed=23)
    with start_simulator(sim) as running:
        yield running


@pytest.fixture
def sim(served: RunningSimulator) -> Iterator[Simulator]:
    """The served simulator, with faults, counters, quota and clock reset for each test."""
    served.sim.reset()
    yield served.sim
    served.sim.reset()


@pytest.fixture
def sim_sleep(served: RunningSimulator) -> SimSleep:
    return SimSleep(served)


@pytest.fixture
def sim_policy(sim: Simulator, sim_sleep: SimSleep, stats: RetryStats) -> RetryPolicy:
    return RetryPolicy(sleep=sim_sleep, clock=sim.clock.now, observer=stats)


@pytest.fixture
async def net() -> AsyncIterator[httpx.AsyncClient]:
    """A real HTTP client (loopback to the simulator)."""
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


@pytest.fixture
def site_client(
    served: RunningSimulator, sim: Simulator, net: httpx.AsyncClient, sim_policy: RetryPolicy
) -> ConfluenceClient:
    """A client of the simulated site with the admin operator's API token."""
    token = sim.credentials.admin_token
    auth = BasicAuth(token.email, token.token)
    return ConfluenceClient(net, served.site_url(), auth, sim_policy)
