"""Scale (issue 24, items 2, 3 and 6): 100,000 accounts — and a million — on the wire store.

Per size, Vigil runs under uvicorn in this process (no worker) on SecantusDB (default), a real
MongoDB (``--mongodb-url``) or the embedded store. The organization is written directly, as a
sync and identity resolution would leave it (``testkit.access_scale.seed``: a current
ACCESS_REVIEW snapshot, 90 % staff linked to people, 1 % of them offboarded, 10 %
unidentified, a third without MFA, 2 % admins, Confluence as a critical system) — a generated
snapshot, not a simulated sync, so that a million accounts can be seeded at all. Then:

- **first**: the served app's first evaluation of every access check (cold caches, every
  account judged, everything recorded with the production evidence recorder);
- **cold**: a new process (``cold_process.py``, configured from the environment as ``vigil
  serve`` is) evaluates every access check over the same store (target < 5 s at 100,000,
  < 40 s at 1,000,000) and reports its peak resident memory (target < 1.5 GB); the bench's
  own peak (the seeding and the served app after its first evaluation) is printed beside it.
  On the embedded store, which another process cannot read, new services in this process
  stand in, and the peak is this process's;
- **push**: a ``gql`` client subscribes to ``checkResultUpdated`` over WebSocket; each sample
  is one ``offboardPerson`` over HTTP (an identified account's person, offboarded two days
  ago) until the push of ``confluence-offboarded-access-removed`` that lists the account,
  then one ``linkAccount`` of an unidentified account until the push of
  ``confluence-user-identified`` that no longer lists it (the targets are among the first
  500 failing items, which the push carries). p50 / p99, timed from the request on an open
  connection (targets: p99 < 250 ms at 100,000, < 1 s at 1,000,000); and the documents each
  change wrote (counted by the store's guard, where every write passes);
- the process's garbage collector is set as ``vigil serve`` sets it (ADR 024;
  ``--gc-thresholds 700,10,10`` for CPython's own);
- **largest**: the largest document of every collection (server-side sizes; limit 4 MB).

    .venv/bin/python bench/scale.py                              # 100,000 on SecantusDB
    .venv/bin/python bench/scale.py --sizes 1000000 --samples 10  # a million
    .venv/bin/python bench/scale.py --quick                      # 2,000 (make bench-quick)
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import json
import os
import resource
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from check_latency import LINK, OFFBOARD, subscription
from evaluation import GcPauses, measure_sizes, p99, sample
from evaluation import cold as cold_times
from evidence_size import largest_documents
from sync_wall import machine

from api.runtime import prepare_process
from api.settings import collector_thresholds
from services.checks.access.data import ACCESS
from services.people.models import person_id
from services.store import Store
from testkit import access_scale
from testkit.graphql_client import failing_items
from testkit.live import LiveServer, bench_server, bench_store_url

PUSH_TARGETS = {100_000: 0.25, 1_000_000: 1.0}  # p99 seconds by accounts
COLD_TARGETS = {100_000: 5.0, 1_000_000: 40.0}
MEMORY_TARGET = 1.5 * 1024**3
DOCUMENT_LIMIT = 4 * 1024 * 1024
COLD_PROCESS = Path(__file__).resolve().parent / "cold_process.py"


def target(targets: dict[int, float], n: int) -> float:
    """The target for ``n`` accounts (the nearest size at or above it)."""
    return next((t for size, t in sorted(targets.items()) if n <= size), max(targets.values()))


def peak_rss() -> int:
    """The process's peak resident memory in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


async def cold(live: LiveServer, store: Store, org: str) -> dict[str, Any]:
    """Every access check evaluated from cold: by a new process (``cold_process.py``) over the
    same store, its own time and peak memory; on the embedded store, which no other process
    can read, by new services in this process (whose peak then includes the served app's)."""
    url = bench_store_url(store)
    if url is None:
        times = await cold_times(live, store, org, warm=False)
        return {
            "cold_s": times["cold_s"],
            "process_cpu_s": times["cold_cpu_s"],
            "peak_rss_bytes": peak_rss(),
            "where": "new services in the bench's process",
        }
    settings = live.container.settings
    secrets = {
        "VIGIL_SECRET_KEY": settings.secret_key,
        "VIGIL_EVIDENCE_HMAC_KEY": settings.evidence_hmac_key,
    }
    env = {
        **os.environ,
        "VIGIL_MONGODB_URL": url,
        "VIGIL_MONGODB_DB": store.db_name,
        "VIGIL_GC_THRESHOLDS": ",".join(map(str, gc.get_threshold())),
        **{name: value.get_secret_value() for name, value in secrets.items() if value},
    }
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        str(COLD_PROCESS),
        org,
        env=env,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await child.communicate()
    if child.returncode != 0:
        raise RuntimeError(f"the cold process exited with {child.returncode}")
    figures: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    figures["where"] = "a new process"
    figures["bench_peak_rss_bytes"] = peak_rss()  # the served app and the seeding, for reference
    return figures


def listing(account: str, *, present: bool) -> Callable[[dict[str, Any]], bool]:
    def done(result: dict[str, Any]) -> bool:
        return (account in {i["resourceId"] for i in failing_items(result)}) is present

    return done


async def pushes(live: LiveServer, store: Store, key: str, org: str, count: int) -> dict[str, Any]:
    """``count`` samples of each change, and the documents each wrote (mean per change)."""
    headers = {"Authorization": f"Bearer {key}"}
    url = live.graphql_url
    left = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    # identified accounts whose person is not offboarded, and unidentified ones: the first
    # ones by id, so that each is among the first 500 failing items of its check's push
    staff = [i for i in range(1, 10 * count) if access_scale.identified(i) and i % 100][:count]
    unidentified = [i for i in range(count * 10 + 9) if not access_scale.identified(i)][:count]
    measured: dict[str, Any] = {}
    async with httpx.AsyncClient(headers=headers, timeout=120) as http:
        await http.post(url, json={"query": "{ checks { id } }"})  # the connection is open
        measure = functools.partial(sample, http, url, timeout=120)
        for name, check_id, cases in (
            (
                "offboardPerson",
                "confluence-offboarded-access-removed",
                [
                    (
                        OFFBOARD,
                        {"personId": person_id(org, access_scale.email(i)), "offboardedAt": left},
                        listing(access_scale.account_id(i), present=True),
                    )
                    for i in staff
                ],
            ),
            (
                "linkAccount",
                "confluence-user-identified",
                [
                    (
                        LINK,
                        {
                            "accountId": access_scale.account_id(i),
                            "personId": person_id(org, access_scale.email(i - 1)),
                        },
                        listing(access_scale.account_id(i), present=False),
                    )
                    for i in unidentified
                ],
            ),
        ):
            before = Counter(store.guard.written)
            times = []
            with GcPauses() as collected:
                async with subscription(live, key, check_id) as queue:
                    for mutation, variables, done in cases:
                        _, pushed = await measure(queue, mutation, {"input": variables}, done)
                        times.append(pushed)
            written = Counter(store.guard.written) - before
            measured[name] = {
                "samples": len(times),
                "push_p50_ms": round(statistics.median(times) * 1000, 1),
                "push_p99_ms": round(p99(times) * 1000, 1),
                "push_max_ms": round(max(times) * 1000, 1),
                "push_ms_in_order": [round(t * 1000, 1) for t in times],
                # full collections meanwhile (a pause of every coroutine, the server's included)
                "full_gc_pauses_ms": [round(p * 1000, 1) for p in collected.pauses[2]],
                "documents_per_change": round(sum(written.values()) / len(times), 1),
                "documents_by_collection": dict(sorted(written.items())),
            }
    return measured


async def measure(args: argparse.Namespace, n: int) -> dict[str, Any]:
    async with bench_server(args.mongodb_url, args.store) as (live, store, kind):
        # the collector as `vigil serve` sets it (ADR 024), unless --gc-thresholds says otherwise
        thresholds = live.container.settings.collector_thresholds
        if args.gc_thresholds is not None:
            thresholds = collector_thresholds(args.gc_thresholds)
        prepare_process(thresholds)
        services = live.container.services
        org, created = await services.organizations.create_organization("Scale")
        started = time.perf_counter()
        seeded = await access_scale.seed(store, org.id, n, datetime.now(UTC))
        seed_s = time.perf_counter() - started
        print(f"seeded {n:,} accounts in {seed_s:.1f} s {seeded.seconds}", flush=True)
        started = time.perf_counter()
        live.container.reevaluator.request(org.id, (ACCESS,))
        await live.container.reevaluator.settle()
        first_s = time.perf_counter() - started
        print(f"first evaluation in {first_s:.2f} s", flush=True)
        result: dict[str, Any] = {
            "accounts": n,
            "people": seeded.people,
            "store": kind,
            "seed_s": round(seed_s, 1),
            "first_s": round(first_s, 2),
            "gc_thresholds": gc.get_threshold(),
        }
        result["cold"] = await cold(live, store, org.id)
        print(f"cold evaluation in {result['cold']['cold_s']:.2f} s", flush=True)
        result["push"] = await pushes(live, store, created.secret, org.id, args.samples)
        latest = await store.check_results.list_latest(organization_id=org.id)
        result["statuses"] = {r.check_id: r.status.value for r in latest}
        result["largest"] = dict(
            sorted((await largest_documents(store)).items(), key=lambda kv: -kv[1])
        )
        return result


def lines(result: dict[str, Any], quick: bool) -> list[str]:
    n, where = result["accounts"], f"store {result['store']} | {machine()}"
    out = []
    push = target(PUSH_TARGETS, n)
    for name, m in result["push"].items():
        out.append(
            f"{name} → push at {n:,} accounts: p50 {m['push_p50_ms']:.0f} ms, p99 "
            f"{m['push_p99_ms']:.0f} ms / target {push * 1000:.0f} ms = "
            f"{m['push_p99_ms'] / 1000 / push:.2f} ({m['samples']} samples; "
            f"{m['documents_per_change']} documents written per change) | {where}"
        )
    limit = target(COLD_TARGETS, n)
    cold = result["cold"]
    cold_s, rss = cold["cold_s"], cold["peak_rss_bytes"]
    bench = cold.get("bench_peak_rss_bytes")
    out.append(
        f"cold evaluation of {n:,} accounts by {cold['where']}: {cold_s:.2f} s / target "
        f"{limit:.0f} s = {cold_s / limit:.2f} (its CPU {cold['process_cpu_s']:.2f} s, the rest "
        f"waiting on the store); its peak memory {rss / 1024**2:,.0f} MiB / target "
        f"{MEMORY_TARGET / 1024**2:,.0f} MiB = {rss / MEMORY_TARGET:.2f}"
        + (f" (the bench's own process: {bench / 1024**2:,.0f} MiB)" if bench else "")
        + f" | {where}"
    )
    name, size = next(iter(result["largest"].items()))
    recorded = sum(1 for s in result["statuses"].values() if s != "ERROR")
    out.append(
        f"largest document at {n:,} accounts: {size:,} bytes in {name} / limit "
        f"{DOCUMENT_LIMIT:,} = {size / DOCUMENT_LIMIT:.3f}; access checks recorded "
        f"{recorded} of {len(result['statuses'])} ({result['statuses']})"
    )
    if quick:
        out.append("(quick: a small size to keep the bench working; targets are for 100k / 1M)")
    return out


def main() -> None:
    measure_sizes(
        __doc__,
        measure,
        lines,
        sizes=[100_000],
        store="wire",
        options=lambda parser: parser.add_argument(
            "--gc-thresholds",
            default=None,
            help="the collector's thresholds, e.g. 700,10,10 ('': Python's own); default: "
            "VIGIL_GC_THRESHOLDS as `vigil serve` sets them",
        ),
    )


if __name__ == "__main__":
    main()
