"""Issue 23 end to end on the wire store: the simulator's admin actions reach a
``checkResultUpdated`` subscriber through the change watch (the worker in-process polls the
organization's events stream, one TARGETED run refreshes the account), with no full sync in
between and a handful of requests to Atlassian per change."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from simulator import RunningSimulator
from simulator.routing import EVENTS_STREAM
from testkit.conditions import until
from testkit.connect import Env, vigil_for
from testkit.graphql_client import failing_items
from tests.conftest import served_site
from tests.e2e.access_support import watch_check
from tests.e2e.test_access_checks_api import OFFBOARD, OFFBOARDED, accounts, prepare

pytestmark = pytest.mark.wire
POLL_SECONDS = 1.0
RUNS = """query($id: ID!) { syncRuns(integrationId: $id, first: 50) {
  edges { node { kind trigger status } } } }"""
WATCH = """query($id: ID!) { node(id: $id) { ... on Integration { changeWatch {
  enabled reason lastPolledAt eventsSeen refreshes } } } }"""


watch_sim = served_site(users=30, groups=4, pages=2, seed=23)


@pytest.fixture
async def env(wire_url: str, watch_sim: RunningSimulator) -> AsyncIterator[Env]:
    settings = {
        "run_worker": True,
        "scheduler_tick_seconds": 0.5,  # the watchers start within a tick of the connect
        "change_watch_poll_seconds": POLL_SECONDS,
        "change_watch_coalesce_seconds": 0.2,
    }
    async with vigil_for(watch_sim, "wire", wire_url, **settings) as e:
        yield e


async def runs(env: Env, integration_id: str) -> list[tuple[str, str, str]]:
    data = await env.gql(RUNS, {"id": integration_id})
    return [
        (e["node"]["kind"], e["node"]["trigger"], e["node"]["status"])
        for e in data["syncRuns"]["edges"]
    ]


async def test_an_admin_change_reaches_the_check_within_a_minute_without_a_full_sync(
    env: Env,
) -> None:
    integration_id = await prepare(env)
    sim = env.sim.sim
    await until(
        lambda: _watching(env, integration_id),
        timeout=30,
        interval=0.2,
        what="the change watch to poll",
    )
    operators = set(sim.site.operators.values())
    listed = {a.account_id for _, a in sim.directory_accounts()}
    staff = await accounts(env, classification="STAFF", status="ACTIVE")
    target = next(
        a
        for a in staff
        if a["accountId"] in listed
        and a["accountId"] not in operators  # suspendable
        and a["identity"]["method"] == "AUTO_EMAIL"  # type: ignore[index]
    )
    account_id = str(target["accountId"])
    person = target["identity"]["person"]  # type: ignore[index]
    full_runs = [r for r in await runs(env, integration_id) if r[0] == "FULL"]

    async with watch_check(env, OFFBOARDED) as stream:
        left = (datetime.now(UTC) - timedelta(days=2)).isoformat()
        payload = await env.gql(
            OFFBOARD, {"input": {"personId": person["id"], "offboardedAt": left}}
        )
        assert payload["offboardPerson"]["userErrors"] == []
        await stream.until("FAILING", timeout=10)

        for change, status in ((sim.actions.suspend, "PASSING"), (sim.actions.restore, "FAILING")):
            before = sim.counters.by_route
            started = time.monotonic()
            change(account_id)
            result = await stream.until(status, timeout=60, check_id=OFFBOARDED)
            elapsed = time.monotonic() - started
            assert elapsed < 60
            failing = [i["resourceId"] for i in failing_items(result)]
            assert failing == ([account_id] if status == "FAILING" else [])
            after = sim.counters.by_route
            made = {r: n - before.get(r, 0) for r, n in after.items() if n > before.get(r, 0)}
            polls = made.pop(f"GET {EVENTS_STREAM}", 0)
            # The refresh's reads plus the one poll that found the event (idle polls, one
            # per POLL_SECONDS, are counted by bench/change_watch.py as requests per idle hour).
            assert 1 <= polls <= elapsed / POLL_SECONDS + 2, (polls, elapsed)
            assert sum(made.values()) + 1 <= 5, made

    after_runs = await runs(env, integration_id)
    assert [r for r in after_runs if r[0] == "FULL"] == full_runs  # no full sync in between
    targeted = [r for r in after_runs if r[0] == "TARGETED"]
    assert len(targeted) >= 2 and all(r[1:] == ("EVENTS", "SUCCEEDED") for r in targeted)

    async def counted() -> dict[str, object] | None:  # the watcher sees a run end on its next step
        watch = (await env.gql(WATCH, {"id": integration_id}))["node"]["changeWatch"]
        return watch if watch["refreshes"] >= 2 else None

    watch = await until(counted, timeout=30, interval=0.2, what="the refreshes counted")
    assert watch["enabled"] and watch["reason"] is None and watch["eventsSeen"] >= 2


async def _watching(env: Env, integration_id: str) -> bool:
    watch = (await env.gql(WATCH, {"id": integration_id}))["node"]["changeWatch"]
    return bool(watch["enabled"] and watch["lastPolledAt"])
