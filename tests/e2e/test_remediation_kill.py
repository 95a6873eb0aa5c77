"""Issue 21 "must show": ``kill -9`` of the process carrying out remediation, at random
moments, over several rounds (a real process on the wire store, against the simulator): every
action ends final and has exactly one evidence record, and the evidence chain verifies.

Each round starts a fresh executor process and kills it (SIGKILL: no ``finally``, no lease
released) once the simulator has counted a random number of further requests, so the kill
lands before, during or after calls, read-backs and evidence appends. The next round waits
until the dead process's leases expire (a short lease setting) and resumes. A last round runs
to the end. The seed of the random moments is printed on failure."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from services.models import Principal, Role
from services.remediation.models import ActionState
from simulator import RunningSimulator
from testkit.refresh_race import ROOT, _process_env
from tests.e2e.connect_support import Env, worker_env
from tests.e2e.remediation_support import (
    OFFBOARDED,
    VERIFY,
    offboard,
    prepare,
    staff_accounts,
    until_failing,
)

ROUNDS = 5
MAX_REQUESTS = 8  # a round is killed after 1 to 8 more requests to the simulator
LEASE_SECONDS = 2
SEED = int(os.environ.get("VIGIL_KILL_SEED", "2117"))


@pytest.fixture
async def env(
    request: pytest.FixtureRequest, remediation_sim: RunningSimulator
) -> AsyncIterator[Env]:
    # The API process must not resume the actions itself: only the killed processes work.
    async for e in worker_env(request, remediation_sim, remediation_resume_seconds=3600):
        yield e


def spawn(env: Env, wire_url: str) -> subprocess.Popen[str]:
    environment = {
        **_process_env(env, wire_url),
        "VIGIL_RUN_WORKER": "false",
        "VIGIL_REMEDIATION_LEASE_SECONDS": str(LEASE_SECONDS),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "tests.e2e.remediation_process", env.org_id],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


async def until_ready(proc: subprocess.Popen[str]) -> None:
    assert proc.stdout is not None
    line = await asyncio.to_thread(proc.stdout.readline)
    if line.strip() != "ready":
        err = proc.stderr.read() if proc.stderr else ""
        raise AssertionError(f"the executor process did not start: {line!r} {err[-2000:]}")


async def kill_after(proc: subprocess.Popen[str], env: Env, requests: int) -> bool:
    """SIGKILL once the simulator counted ``requests`` more requests; False if it ended first."""
    counters = env.sim.sim.counters
    target = counters.count() + requests
    async with asyncio.timeout(60):
        while counters.count() < target:
            if proc.poll() is not None:
                return False
            await asyncio.sleep(0.002)
    proc.kill()
    await asyncio.to_thread(proc.wait, 30)
    return True


async def until_leases_expired(env: Env) -> None:
    """Wait (a condition, with a deadline) until no action is held by the dead process."""
    actions = env.live.container.store._db["remediation_actions"]
    async with asyncio.timeout(LEASE_SECONDS * 10):
        while await actions.count_documents(
            {"lease_owner": {"$ne": None}, "lease_expires_at": {"$gt": datetime.now(UTC)}}
        ):
            await asyncio.sleep(0.05)


@pytest.mark.wire
@pytest.mark.parametrize("env", ["wire"], indirect=True)
async def test_kill_9_at_random_moments_leaves_every_action_final_with_one_record(
    env: Env, wire_url: str
) -> None:
    rng = random.Random(SEED)
    await prepare(env, admin_key=False)  # group removals: several calls per person
    people = (await staff_accounts(env))[:8]
    for person in people:
        await offboard(env, person)
    await until_failing(env, OFFBOARDED, {p["accountId"] for p in people}, timeout=30)
    container = env.live.container
    plan = await container.remediation.plan(Principal(env.org_id, Role.ADMIN, "key_admin"))
    # Each action costs at least three requests (re-check, call, read-back): more than the
    # rounds can make before their kills, so every round is killed with work left.
    assert len(plan) * 3 > ROUNDS * MAX_REQUESTS and all(a.executable for a in plan)
    await container.store.remediations.approve(plan, approved_by="key_admin", now=datetime.now(UTC))
    sim = env.sim.sim
    sim.faults.configure(latency_ms=15, jitter_ms=10)  # calls take a while: kills land inside

    killed: list[dict[str, Any]] = []
    for round_ in range(ROUNDS):
        proc = spawn(env, wire_url)
        await until_ready(proc)
        requests = rng.randint(1, MAX_REQUESTS)
        if await kill_after(proc, env, requests):
            states = await _states(env)
            killed.append({"round": round_, "after": requests, "states": states})
        await until_leases_expired(env)
    proc = spawn(env, wire_url)
    await until_ready(proc)
    out, err = await asyncio.to_thread(proc.communicate, timeout=120)
    assert proc.returncode == 0 and "done" in out, (SEED, out, err[-3000:])

    context = f"seed {SEED}, kills {killed}"
    assert len(killed) == ROUNDS, context  # every kill landed while there was work left
    landed = {state for k in killed for state in k["states"]}
    assert {"PENDING", "CALLING"} <= landed, context  # before and during calls
    repo = container.store.remediations
    stored = await repo.get_many(organization_id=env.org_id, action_ids=[a.id for a in plan])
    assert len(stored) == len(plan)
    for action in stored.values():
        assert action.state is ActionState.VERIFIED, (action, context)
        assert action.evidence_id, (action, context)
    records: Counter[str] = Counter()
    async for record in container.store.evidence.iter_chain(organization_id=env.org_id):
        result = record.content().get("result", {})
        if result.get("kind") == "remediation":
            records[result["actionId"]] += 1
            assert record.id == stored[result["actionId"]].evidence_id, context
    assert records == dict.fromkeys(stored, 1), context  # exactly one record per action
    assert (await env.gql(VERIFY))["verifyEvidenceChain"]["valid"] is True
    for person in people:
        assert sim.site.groups_of(person["accountId"]) == []


async def _states(env: Env) -> dict[str, int]:
    repo = env.live.container.store.remediations
    actions, _ = await repo.list_actions(organization_id=env.org_id, limit=500, before=None)
    return dict(Counter(a.state.value if a.state else "?" for a in actions))
