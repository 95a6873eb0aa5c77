"""Peak memory of one sync of a large simulated site (SPEC §3.2: memory does not grow with
the size of the site).

The simulator runs in its own process (its data set is not ours to count) and the database
is SecantusDB in its own process, unless ``--mongodb-url`` points at a real MongoDB. This
process only runs the sync pipeline; its RSS is sampled every 20 ms.

    .venv/bin/python bench/sync_memory.py --users 20000 --groups 400 --pages 500
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import resource
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.integrations.models import Purpose
from services.store import Store
from services.sync.models import SyncRun
from testkit.mongo import wire_server
from testkit.static_connector import StaticConnectorFactory
from testkit.sync import connected_integration, make_runner, sync_now


@dataclass
class SimInfo:
    process: subprocess.Popen[str]
    base_url: str
    site_url: str
    email: str
    token: str
    org_id: str
    admin_key: str


def site_arguments(
    parser: argparse.ArgumentParser, *, users: int, groups: int, seed: int, pages: int | None = None
) -> None:
    """The options of the generated site a bench syncs: --users, --groups, --pages (when it
    has a default here) and --seed."""
    parser.add_argument("--users", type=int, default=users)
    parser.add_argument("--groups", type=int, default=groups)
    if pages is not None:
        parser.add_argument("--pages", type=int, default=pages)
    parser.add_argument("--seed", type=int, default=seed)


def start_simulator(
    users: int, groups: int, pages: int, seed: int, *, latency_ms: float = 0.0
) -> SimInfo:
    """Run ``python -m simulator`` on a free port and read its banner."""
    args = [sys.executable, "-m", "simulator", "--port", "0", "--users", str(users),
            "--groups", str(groups), "--pages", str(pages), "--seed", str(seed),
            "--latency-ms", str(latency_ms), "--log-level", "warning"]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    banner = ""
    for line in proc.stdout:
        banner += line
        if line.strip().startswith("for Vigil:"):
            break

    def find(pattern: str) -> str:
        match = re.search(pattern, banner)
        if not match:
            raise RuntimeError(f"simulator banner lacks {pattern!r}:\n{banner}")
        return match.group(1)

    admin = re.search(r"API token \(admin.*\n\s+email (\S+)\s+token (\S+)", banner)
    assert admin is not None, banner
    return SimInfo(
        process=proc,
        base_url=find(r"base URL\s+(\S+)"),
        site_url=find(r"site \w+\s+(\S+)"),
        email=admin.group(1),
        token=admin.group(2),
        org_id=find(r"Admin API org id\s+(\S+)"),
        admin_key=find(r"Admin API key\s+(\S+)"),
    )


async def sample_rss(peak: list[int], stop: asyncio.Event) -> None:
    """Record the highest RSS seen until ``stop``."""
    me = psutil.Process()
    while not stop.is_set():
        peak[0] = max(peak[0], me.memory_info().rss)
        await asyncio.sleep(0.02)


async def run(args: argparse.Namespace, url: str, sim: SimInfo) -> dict[str, Any]:
    store = Store.open(url, f"vigil_bench_{uuid.uuid4().hex[:8]}")
    await store.ensure_indexes()
    connectors = StaticConnectorFactory(
        site_url=sim.site_url, email=sim.email, api_token=sim.token,
        api_url=f"{sim.base_url}/api", admin_api_key=sim.admin_key, admin_org_id=sim.org_id,
    )  # fmt: skip
    runner = make_runner(store, connectors)
    org = await store.organizations.create(name="Bench")
    baseline = psutil.Process().memory_info().rss
    peak, stop = [baseline], asyncio.Event()
    sampler = asyncio.create_task(sample_rss(peak, stop))
    results: dict[str, Any] = {}
    try:
        for purpose in (Purpose.ACCESS_REVIEW, Purpose.POLICY):
            integration = await connected_integration(store, org.id, purpose, site_url=sim.site_url)
            started = time.monotonic()
            done: SyncRun | None = await sync_now(runner, integration)
            assert done is not None, "lease not acquired"
            results[purpose.value] = {
                "status": done.status.value,
                "error": done.error,
                "seconds": round(time.monotonic() - started, 1),
                "requests": done.progress.requests_made,
                "items": done.progress.items_fetched,
                "counts": _counts(done),
            }
    finally:
        stop.set()
        await sampler
        await store.drop()
        store.close()
    results["rss_baseline_mb"] = round(baseline / 2**20, 1)
    results["rss_peak_mb"] = round(peak[0] / 2**20, 1)
    results["ru_maxrss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return results


def _counts(run: SyncRun) -> dict[str, int]:
    c = run.counts
    return {"accounts": c.accounts, "groups": c.groups, "memberships": c.memberships,
            "pages": c.pages} if c else {}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    site_arguments(parser, users=20000, groups=400, pages=500, seed=1)
    parser.add_argument("--mongodb-url", default=None, help="a real MongoDB (default: SecantusDB)")
    args = parser.parse_args()
    sim = start_simulator(args.users, args.groups, args.pages, args.seed)
    try:
        with ExitStack() as stack:
            url = args.mongodb_url or stack.enter_context(wire_server())
            results = asyncio.run(run(args, url, sim))
    finally:
        sim.process.terminate()
        sim.process.wait(10)
    results["site"] = {"users": args.users, "groups": args.groups, "pages": args.pages}
    results["database"] = "mongodb" if args.mongodb_url else "secantusdb"
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
