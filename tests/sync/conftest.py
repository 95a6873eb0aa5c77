"""Simulators for the sync tests (real HTTP servers on loopback, one per module or test)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from simulator import RunningSimulator, Simulator, generate_site, start_simulator


@pytest.fixture
def small_sim() -> Iterator[RunningSimulator]:
    """A fresh 120-user / 12-group / 40-page site per test (tests may mutate and fault it)."""
    sim = Simulator(generate_site(users=120, groups=12, pages=40, seed=21))
    with start_simulator(sim) as running:
        yield running
