"""Two `vigil worker` processes against one wire-server database: one run per integration,
and a worker killed mid-run (SIGKILL) leaves a lease that expires, then the other completes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from api import heartbeat
from api.container import Container
from services.integrations.models import Purpose
from services.models import Principal, Role
from services.sync.models import SyncRun, SyncRunStatus
from services.sync.queue import STALE_RUN
from simulator import RunningSimulator
from testkit.conditions import until
from tests.conftest import served_site
from tests.sync.worker_processes import VIGIL, Workers, started_container, worker_settings

pytestmark = pytest.mark.wire


# A site whose sync takes a few seconds: every request waits 60 ms.
slow_sim = served_site(users=600, groups=40, pages=30, seed=13, latency_ms=60)


@pytest.fixture
async def env(wire_url: str, slow_sim: RunningSimulator, tmp_path: Path) -> AsyncIterator[Any]:
    settings = worker_settings(wire_url, "vigil_workers", slow_sim, VIGIL_LOG_LEVEL="INFO")
    container = await started_container(settings)
    org, key = await container.services.organizations.create_organization("Acme")
    principal = Principal(org.id, Role.ADMIN, key.key.id)
    workers = Workers(settings, tmp_path)

    def start_worker(name: str) -> subprocess.Popen[bytes]:
        beat = str(tmp_path / f"{name}.heartbeat")
        proc = workers.start(name, VIGIL_WORKER_HEARTBEAT_FILE=beat)
        proc.heartbeat = beat  # type: ignore[attr-defined]
        return proc

    try:
        yield container, principal, start_worker, slow_sim
    finally:
        workers.stop()
        await container.store.drop()
        await container.stop()


async def _connect(
    container: Container, principal: Principal, running: RunningSimulator, purpose: Purpose
) -> str:
    creds = running.sim.credentials
    integration = await container.services.integrations.connect_api_token(
        principal,
        purpose=purpose,
        domain=running.site_url(),
        email=creds.admin_token.email,
        api_token=creds.admin_token.token,
        confirm_credentials=True,
    )
    if purpose is Purpose.ACCESS_REVIEW:
        await container.services.integrations.set_admin_key(
            principal,
            integration_id=integration.id,
            org_id=creds.org_id,
            api_key=creds.admin_api_key,
        )
    return integration.id


async def _runs(container: Container, integration_id: str) -> list[SyncRun]:
    runs, _ = await container.store.sync_runs.list_by_integration(
        integration_id=integration_id, limit=50
    )
    return runs


def _ticks(worker: subprocess.Popen[bytes]) -> int:
    """Scheduler ticks the worker has completed (its heartbeat file), 0 before the first."""
    beat = heartbeat.read(worker.heartbeat)  # type: ignore[attr-defined]
    ticks = beat.get("ticks", 0) if beat else 0
    return ticks if isinstance(ticks, int) else 0


async def test_two_workers_one_run_and_takeover_after_sigkill(env: Any) -> None:
    container, principal, start_worker, running = env
    workers = [start_worker("worker-1"), start_worker("worker-2")]
    pids = {w.pid for w in workers}

    # Both workers see a never-synced integration as due; exactly one runs it.
    policy = await _connect(container, principal, running, Purpose.POLICY)

    async def policy_done() -> list[SyncRun] | None:
        runs = await _runs(container, policy)
        return runs if any(r.status is SyncRunStatus.SUCCEEDED for r in runs) else None

    runs = await until(policy_done, what="the POLICY run", timeout=30, interval=0.1)
    # Both workers tick several more times after the run, each seeing it as not due.
    after = {w.pid: _ticks(w) for w in workers}
    for w in workers:

        async def ticked_more(w: subprocess.Popen[bytes] = w) -> bool:
            return _ticks(w) >= after[w.pid] + 3

        await until(
            ticked_more, what=f"worker {w.pid} to tick three more times", timeout=30, interval=0.1
        )
    runs = await _runs(container, policy)
    assert [r.status for r in runs] == [SyncRunStatus.SUCCEEDED]
    assert int(runs[0].owner.split(":")[1]) in pids

    # Kill the worker running the ACCESS_REVIEW sync in the middle of it.
    access = await _connect(container, principal, running, Purpose.ACCESS_REVIEW)

    async def running_mid_way() -> SyncRun | None:
        runs = await _runs(container, access)
        live = [r for r in runs if r.status is SyncRunStatus.RUNNING]
        return live[0] if live and live[0].progress.items_fetched > 0 else None

    victim_run = await until(
        running_mid_way, what="the ACCESS_REVIEW run to start", timeout=30, interval=0.1
    )
    victim_pid = int(victim_run.owner.split(":")[1])
    os.kill(victim_pid, signal.SIGKILL)
    killed_at = time.monotonic()
    survivor = next(w for w in workers if w.pid != victim_pid)

    async def access_done() -> list[SyncRun] | None:
        runs = await _runs(container, access)
        return runs if any(r.status is SyncRunStatus.SUCCEEDED for r in runs) else None

    runs = await until(access_done, what="the takeover run", timeout=60, interval=0.1)
    assert time.monotonic() - killed_at >= 1.0  # not before the dead worker's lease expired
    assert len(runs) == 2
    done, dead = runs
    assert dead.id == victim_run.id
    assert dead.status is SyncRunStatus.FAILED and dead.error == STALE_RUN
    assert done.status is SyncRunStatus.SUCCEEDED
    assert int(done.owner.split(":")[1]) == survivor.pid and done.fence > dead.fence
    assert done.started_at >= dead.started_at
    integration = await container.store.integrations.get_by_id(integration_id=access)
    assert integration.current_snapshot_id == done.snapshot_id
    assert done.counts.accounts == len(running.sim.site.member_account_ids())
    assert (await container.store.snapshot_data.counts(dead.snapshot_id)).accounts == 0
    assert survivor.poll() is None


async def test_vigil_sync_cli_runs_one_sync(env: Any) -> None:
    container, principal, _, running = env
    access = await _connect(container, principal, running, Purpose.ACCESS_REVIEW)
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")},
        "VIGIL_MONGODB_URL": container.settings.mongodb_url_value() or "",
        "VIGIL_MONGODB_DB": container.settings.mongodb_db,
        "VIGIL_SECRET_KEY": container.settings.secret_key.get_secret_value(),
        "VIGIL_EVIDENCE_HMAC_KEY": container.settings.evidence_hmac_key.get_secret_value(),
        "VIGIL_ALLOW_INSECURE_URLS": "true",
        "VIGIL_ATLASSIAN_API_URL": running.api_url,
        "COLUMNS": "200",
    }
    org = principal.organization_id

    async def vigil_sync(
        org: str, purpose: str, env: dict[str, str]
    ) -> subprocess.CompletedProcess[str]:
        command = [VIGIL, "sync", "--org", org, "--purpose", purpose]
        return await asyncio.to_thread(
            subprocess.run, command, env=env, capture_output=True, text=True, timeout=60
        )

    done = await vigil_sync(org, "ACCESS_REVIEW", environment)
    assert done.returncode == 0, done.stdout + done.stderr
    accounts = len(running.sim.site.member_account_ids())
    assert "succeeded" in done.stdout and f"{accounts} accounts" in done.stdout
    assert "requests" in done.stdout and "items" in done.stdout  # the progress line
    runs = await _runs(container, access)
    # Connecting queued the first sync; `vigil sync` ran that queued run.
    assert [(r.status, r.trigger.value) for r in runs] == [(SyncRunStatus.SUCCEEDED, "INITIAL")]

    missing = await vigil_sync(org, "POLICY", environment)
    assert missing.returncode == 1 and "No POLICY integration" in missing.stdout
    nope = await vigil_sync("org_nope", "POLICY", environment)
    assert nope.returncode == 1 and "Organization org_nope does not exist" in nope.stdout
    assert "integration" not in nope.stdout
    no_db = await vigil_sync(
        org, "POLICY", {k: v for k, v in environment.items() if k != "VIGIL_MONGODB_URL"}
    )
    assert no_db.returncode == 2 and "VIGIL_MONGODB_URL" in no_db.stderr
