"""How much of a cold evaluation is Python's cyclic garbage collector (issue 24, item 3).

One organization of ``--accounts`` accounts is seeded as ``scale.py`` seeds it
(``testkit.access_scale.seed``) on SecantusDB (default), a real MongoDB (``--mongodb-url``) or
the embedded store, and evaluated once by the served app. Then a cold evaluation (new services
over the same store: ``evaluation.cold``) runs under each collector setting in turn, the
default one first and last (a control), and this prints each one's wall time, this process's
CPU, and the seconds the collector spent per generation with the number of collections.

    .venv/bin/python bench/cold_gc.py                    # 100,000 accounts on SecantusDB
    .venv/bin/python bench/cold_gc.py --quick            # 2,000 (keeps the script working)
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from evaluation import GcPauses, cold
from sync_wall import machine

from api.settings import load_settings
from services.checks.access.data import ACCESS
from testkit import access_scale
from testkit.live import bench_server

DEFAULT = gc.get_threshold()  # the process's own: CPython's (700, 10, 10) unless changed
SERVED = load_settings().collector_thresholds or DEFAULT  # `vigil serve`'s (ADR 024)
SETTINGS = [DEFAULT, SERVED, DEFAULT]


async def measure(args: argparse.Namespace) -> list[dict[str, Any]]:
    async with bench_server(args.mongodb_url, args.store) as (live, store, _):
        org, _key = await live.container.services.organizations.create_organization("GC")
        await access_scale.seed(store, org.id, args.accounts, datetime.now(UTC))
        live.container.reevaluator.request(org.id, (ACCESS,))
        await live.container.reevaluator.settle()
        results = []
        try:
            for threshold in SETTINGS:
                gc.set_threshold(*threshold)
                gc.collect()
                with GcPauses() as spent:
                    times = await cold(live, store, org.id, warm=False)
                results.append(
                    {
                        "threshold": threshold,
                        **{k: round(v, 2) for k, v in times.items()},
                        "gc_s": [round(sum(p, 0.0), 2) for p in spent.pauses],
                        "collections": [len(p) for p in spent.pauses],
                    }
                )
        finally:
            gc.set_threshold(*DEFAULT)
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--store", choices=("embedded", "wire"), default="wire")
    parser.add_argument("--mongodb-url", default=None, help="a real MongoDB (overrides --store)")
    parser.add_argument("--quick", action="store_true", help="2,000 accounts")
    args = parser.parse_args()
    if args.quick:
        args.accounts = 2000
    results = asyncio.run(measure(args))
    print(json.dumps({"accounts": args.accounts, "results": results, "machine": machine()}))
    for r in results:
        print(
            f"cold evaluation of {args.accounts:,} accounts, gc thresholds {r['threshold']}: "
            f"{r['cold_s']:.2f} s, this process's CPU {r['cold_cpu_s']:.2f} s, of which the "
            f"collector {sum(r['gc_s']):.2f} s (by generation {r['gc_s']} s, "
            f"{r['collections']} collections) | {machine()}"
        )


if __name__ == "__main__":
    main()
