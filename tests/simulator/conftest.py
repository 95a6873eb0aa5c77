"""Fixtures: a module-wide running simulator over a generated site, reset between tests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from simulator import RunningSimulator, Simulator, generate_site, start_simulator

NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def running() -> Iterator[RunningSimulator]:
    """A simulator (300 users, 25 groups, 80 pages, seed 11) on a free loopback port."""
    sim = Simulator(generate_site(users=300, groups=25, pages=80, seed=11, now=NOW), seed=11)
    with start_simulator(sim) as served:
        yield served


@pytest.fixture(autouse=True)
def _fresh_state(request: pytest.FixtureRequest) -> Iterator[None]:
    """Faults, counters, quota and clock start clean in every test that uses `running`."""
    if "running" in request.fixturenames:
        served: RunningSimulator = request.getfixturevalue("running")
        served.sim.reset()
    yield


@pytest.fixture
def fresh() -> Iterator[RunningSimulator]:
    """A small simulator of its own (40 users, 6 groups) for a test that changes its data."""
    sim = Simulator(generate_site(users=40, groups=6, pages=2, seed=21, now=NOW), seed=21)
    with start_simulator(sim) as served:
        yield served
