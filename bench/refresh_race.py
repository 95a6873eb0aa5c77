"""Issue 11 "must show", full size: 20 consecutive ACCESS_REVIEW syncs of a 2,000-user
simulated site on the wire server (SecantusDB, or ``--mongodb-url``) with 20-second access
tokens and concurrency 8, while another Vigil process uses and refreshes the same OAuth
integration and the admin key is set through GraphQL during each run. Passes with 0 failed
runs, 0 errors in the other process and no refresh-token replay (the simulator's counters).

    .venv/bin/python bench/refresh_race.py --runs 20 --users 2000

The bounded CI version is ``tests/e2e/test_refresh_race.py`` (3 runs, 300 users).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.sync.models import SyncRunStatus
from simulator import Simulator, start_simulator
from testkit.connect import vigil_for
from testkit.mongo import wire_server
from testkit.refresh_race import refresh_race


async def bench(url: str, runs: int, users: int, groups: int, token_seconds: int) -> int:
    simulator = Simulator.generate(
        users=users, groups=groups, pages=4, seed=5, site_names=("acme",)
    )
    with start_simulator(simulator) as running:
        started = time.monotonic()
        async with vigil_for(running, "wire", url, sync_concurrency=8) as env:
            result = await refresh_race(env, url, runs=runs, token_seconds=token_seconds)
        elapsed = time.monotonic() - started
    failed = [r for r in result.runs if r.status is not SyncRunStatus.SUCCEEDED]
    print(f"runs: {len(result.runs)}, failed: {len(failed)} in {elapsed:.1f} s")
    for run in failed:
        print(f"  {run.id}: {run.error}")
    print(f"token refreshes at the simulator: {result.refreshes}")
    print(
        f"refresh-token replays: {result.reuses_within_window} within the 10-minute window, "
        f"{result.reuses_after_window} after it"
    )
    print(f"other process: {result.other_process.strip()}")
    ok = not failed and result.reuses_after_window == 0 and " errors 0" in result.other_process
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--groups", type=int, default=150)
    parser.add_argument("--token-seconds", type=int, default=20)
    parser.add_argument("--mongodb-url", help="a MongoDB replica set instead of SecantusDB")
    args = parser.parse_args()
    if args.mongodb_url:
        code = asyncio.run(
            bench(args.mongodb_url, args.runs, args.users, args.groups, args.token_seconds)
        )
    else:
        with wire_server() as url:
            code = asyncio.run(bench(url, args.runs, args.users, args.groups, args.token_seconds))
    raise SystemExit(code)


if __name__ == "__main__":
    main()
