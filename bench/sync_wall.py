"""Wall time of one ACCESS_REVIEW sync next to its request floor (issue 15).

The simulator runs in its own process with a fixed latency per request (``--latency-ms``);
the sync runs in this process through the production ``SyncRunner`` (concurrency
``--concurrency``) on the chosen store: ``embedded`` (mongomock, in this process), ``wire``
(SecantusDB in its own process) or ``--mongodb-url``. Printed: requests made, the fewest the
site needs, wall time, the floor and wall ÷ floor next to the 1.3 target, the store and the
machine. The floor is the larger of

- minimum requests * latency / concurrency (every slot busy all the time), and
- the longest chain of pages that must be fetched one after another * latency: the Admin API
  directory's cursor pages (after ``tenant_info``) or the groups' pages followed by the
  longest group's member pages, whichever is longer, then one users-bulk batch.

    .venv/bin/python bench/sync_wall.py --users 20000 --groups 450 --store wire
    .venv/bin/python bench/sync_wall.py --users 1000 --groups 60 --store embedded   # quick
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import sys
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sync_memory import site_arguments, start_simulator

from services.integrations.models import Purpose
from services.store import Store
from services.store.client import connect
from simulator import Simulator, generate_site
from testkit.ground_truth import (
    DIRECTORY,
    GROUPS,
    MEMBERS,
    ROLE_ASSIGNMENTS,
    USERS_BULK,
    expected_requests,
)
from testkit.mongo import wire_server
from testkit.static_connector import StaticConnectorFactory
from testkit.sync import connected_integration, make_runner, sync_now

TARGET = 1.3


def floor(args: argparse.Namespace) -> dict[str, Any]:
    """The fewest requests the site needs and the floor of the wall time (same generator and
    seed as the simulator process, so the same site)."""
    sim = Simulator(
        generate_site(args.users, args.groups, 10, args.seed, name="acme", domain="acme.example")
    )
    needed = expected_requests(sim)
    config, site = sim.config, sim.site
    longest_members = max(
        (max(1, math.ceil(len(site.members_of(g)) / config.members_cap)) for g in site.groups),
        default=0,
    )
    # directory alongside groups → members; then (Admin API key) the roles phase: the product
    # admins' search and the directories, one after the other, then the role reads in
    # parallel; then users-bulk
    roles = 2 + math.ceil(needed[ROLE_ASSIGNMENTS] / args.concurrency)
    chain = max(1 + needed[DIRECTORY], needed[GROUPS] + longest_members) + roles + 1
    latency = args.latency_ms / 1000
    total = sum(needed.values())
    by_volume = total * latency / args.concurrency
    return {
        "minimum_requests": total,
        "per_endpoint": {
            "groups": needed[GROUPS],
            "members": needed[MEMBERS],
            "directory": needed[DIRECTORY],
            "role_assignments": needed[ROLE_ASSIGNMENTS],
            "users_bulk": needed[USERS_BULK],
        },
        "longest_chain_pages": chain,
        "floor_by_volume_s": round(by_volume, 3),
        "floor_by_chain_s": round(chain * latency, 3),
        "floor_s": round(max(by_volume, chain * latency), 3),
    }


async def measure(args: argparse.Namespace, url: str | None, sim: Any) -> dict[str, Any]:
    db = f"vigil_bench_{uuid.uuid4().hex[:8]}"
    if url is None:
        client, embedded = connect(None)
        store = Store(client, db, embedded=embedded)
    else:
        store = Store.open(url, db)
    await store.ensure_indexes()
    connectors = StaticConnectorFactory(
        site_url=sim.site_url, email=sim.email, api_token=sim.token,
        api_url=f"{sim.base_url}/api", admin_api_key=sim.admin_key, admin_org_id=sim.org_id,
    )  # fmt: skip
    runner = make_runner(store, connectors, concurrency=args.concurrency)
    try:
        org = await store.organizations.create(name="Bench")
        integration = await connected_integration(
            store, org.id, Purpose.ACCESS_REVIEW, site_url=sim.site_url
        )
        started = time.monotonic()
        done = await sync_now(runner, integration)
        wall = time.monotonic() - started
        assert done is not None, "lease not acquired"
        return {
            "status": done.status.value,
            "error": done.error,
            "wall_s": round(wall, 3),
            "requests": done.progress.requests_made,
            "retries": done.progress.retries,
            "accounts": done.counts.accounts if done.counts else None,
        }
    finally:
        await store.drop()
        store.close()


def machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}, "
        f"load {load:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    site_arguments(parser, users=20000, groups=450, seed=1)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--store", choices=("embedded", "wire"), default="embedded")
    parser.add_argument("--mongodb-url", default=None, help="a real MongoDB (overrides --store)")
    args = parser.parse_args()
    bound = floor(args)
    sim = start_simulator(args.users, args.groups, 10, args.seed, latency_ms=args.latency_ms)
    try:
        with ExitStack() as stack:
            url: str | None = args.mongodb_url
            store = "mongodb" if url else args.store
            if url is None and args.store == "wire":
                url = stack.enter_context(wire_server())
                store = "wire (SecantusDB)"
            result = asyncio.run(measure(args, url, sim))
    finally:
        sim.process.terminate()
        sim.process.wait(10)
    ratio = result["wall_s"] / bound["floor_s"] if bound["floor_s"] else float("nan")
    report = {
        "site": {"users": args.users, "groups": args.groups, "seed": args.seed},
        "latency_ms": args.latency_ms,
        "concurrency": args.concurrency,
        **result,
        **bound,
        "wall_over_floor": round(ratio, 3),
        "target": TARGET,
        "meets_target": ratio <= TARGET,
        "store": store,
        "machine": machine(),
    }
    print(json.dumps(report, indent=2))
    print(
        f"sync wall {result['wall_s']:.2f} s / floor {bound['floor_s']:.2f} s = {ratio:.2f} "
        f"(target <= {TARGET}) | requests {result['requests']} (minimum "
        f"{bound['minimum_requests']}) | store {store} | {machine()}"
    )
    if result["status"] != "SUCCEEDED":
        raise SystemExit(f"the sync failed: {result['error']}")


if __name__ == "__main__":
    main()
