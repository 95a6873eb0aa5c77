"""Fixtures the end-to-end tests of several modules share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from simulator import RunningSimulator, Simulator, generate_site, start_simulator


@pytest.fixture
def remediation_sim() -> Iterator[RunningSimulator]:
    """A fresh small site per test: remediation changes the site's groups and accounts."""
    sim = Simulator(generate_site(users=30, groups=5, pages=2, seed=16))
    with start_simulator(sim) as running:
        yield running
