"""Issue 11 "must show", bounded for CI: consecutive access-review syncs on the wire server
with 20-second access tokens, concurrency 8, while another process uses and refreshes the
same integration and the admin key is set during each run: no failed run, no refresh-token
replay. The full-size version (20 runs, 2,000 users) is ``bench/refresh_race.py``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from services.sync.models import SyncRunStatus
from simulator import RunningSimulator, Simulator, start_simulator
from testkit.connect import Env
from testkit.refresh_race import refresh_race
from tests.e2e.connect_support import make_env


@pytest.fixture(scope="module")
def race_sim() -> Iterator[RunningSimulator]:
    simulator = Simulator.generate(users=300, groups=12, pages=4, seed=17, site_names=("acme",))
    with start_simulator(simulator) as running:
        yield running


@pytest.fixture
async def env(request: pytest.FixtureRequest, race_sim: RunningSimulator) -> AsyncIterator[Env]:
    async for e in make_env(request, race_sim, sync_concurrency=8):
        yield e


@pytest.mark.wire
@pytest.mark.parametrize("env", ["wire"], indirect=True)
async def test_syncs_survive_refresh_races_and_admin_key_writes(env: Env, wire_url: str) -> None:
    result = await refresh_race(env, wire_url, runs=3)
    assert [r.status for r in result.runs] == [SyncRunStatus.SUCCEEDED] * 3, [
        r.error for r in result.runs
    ]
    assert result.other_process.startswith("ok ") and " errors 0" in result.other_process, (
        result.other_process
    )
    assert result.reuses_after_window == 0
    assert result.reuses_within_window == 0  # one refresh per rotation, across processes
    assert result.refreshes >= 3  # the tokens did expire during the runs
