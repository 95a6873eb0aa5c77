"""One change to N WebSocket subscribers: delivery latency and server memory per subscriber.

Vigil serves under uvicorn in this process with the configuration of ``vigil serve``, on the
chosen store (``embedded`` mongomock, ``wire`` SecantusDB, or ``--mongodb-url``). Another
process (this script with ``--clients``) opens ``--subscribers`` real WebSockets
(``graphql-transport-ws``, authenticated in ``connection_init``, permessage-deflate offered as
gql/browsers do), each subscribing to ``checkResultUpdated(checkId: …)`` with the same
document. Then, ``--events`` times, this process publishes one check-result change on the
organization's bus topic — exactly what the checks service publishes when a result changes,
with ``--items`` failing items — and the clients record when it reaches each of them.

Printed: p50 / p99 / max latency from the publish to a subscriber's receipt (target: p99 <
200 ms at 1,000 subscribers) and the server's RSS per subscriber when subscribed and at its
peak during delivery (target: < 50 KB), each next to its target, with the store and the
machine. The latency starts at the publish: evaluating the change is the mutation → push
measure (``bench/check_latency.py``).

    .venv/bin/python bench/fanout.py --subscribers 1000 --events 10
    .venv/bin/python bench/fanout.py --subscribers 100 --events 3      # quick
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sync_wall import machine

PROTOCOL = "graphql-transport-ws"
CHECK = "confluence-mfa-enabled"
QUERY = (
    "subscription($id: ID) { checkResultUpdated(checkId: $id) { id checkId status reason "
    "failingItems(first: 500) { totalCount edges { node { resourceType resourceId name reason } } "
    "} "
    "evaluatedAt changedAt evidenceId } }"
)
TARGET_P99_MS = 200.0
TARGET_KB = 50.0


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakSampler:
    """The highest RSS of this process, sampled every 2 ms from a thread."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakSampler:
        self.peak = rss_bytes()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, rss_bytes())


# ---------------------------------------------------------------- the clients' process


async def clients(url: str, key: str, n: int, events: int) -> None:
    """Open ``n`` subscribed sockets, then report every event's latency per socket."""
    import websockets

    subscribe = {
        "id": "1",
        "type": "subscribe",
        "payload": {"query": QUERY, "variables": {"id": CHECK}},
    }
    init = {"type": "connection_init", "payload": {"authorization": f"Bearer {key}"}}
    gate = asyncio.Semaphore(32)

    async def open_one() -> Any:
        async with gate:
            ws = await websockets.connect(
                url,
                subprotocols=[PROTOCOL],  # type: ignore[list-item]
                max_size=None,
                ping_interval=None,
                compression="deflate",  # offered, as gql and browsers do
            )
            await ws.send(json.dumps(init))
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            await ws.send(json.dumps(subscribe))
            await ws.send(json.dumps({"type": "ping"}))  # answered once the subscription runs
            assert json.loads(await ws.recv())["type"] == "pong"
            return ws

    sockets = await asyncio.gather(*(open_one() for _ in range(n)))
    print(json.dumps({"ready": n}), flush=True)
    received: dict[int, list[float]] = {}
    payloads: dict[int, set[str]] = {}
    complete = asyncio.Event()

    async def read(ws: Any) -> None:
        async for text in ws:
            now = time.time()
            start = text.find('"evidenceId":"') + len('"evidenceId":"')
            index, _, sent = text[start : text.index('"', start)].partition("|")
            event = int(index)
            received.setdefault(event, []).append(now - float(sent))
            payloads.setdefault(event, set()).add(text)
            if len(received[event]) == n:
                body = json.loads(text)["payload"]["data"]["checkResultUpdated"]
                line = {
                    "event": event,
                    "latencies": received.pop(event),
                    "payloads": [hashlib.sha1(p.encode()).hexdigest() for p in payloads.pop(event)],
                    "bytes": len(text),
                    "items": len(body["failingItems"]["edges"]),
                }
                print(json.dumps(line), flush=True)
                if event == events - 1:
                    complete.set()

    readers = [asyncio.create_task(read(ws)) for ws in sockets]
    await complete.wait()
    for task in readers:
        task.cancel()
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)


# ---------------------------------------------------------------- the server's process


def probe(org_id: str, index: int, items: int) -> dict[str, Any]:
    """The event the checks service publishes for a changed result (``items`` failing)."""
    from services.checks.events import result_event
    from services.checks.models import CheckItem, CheckResult, CheckStatus

    now = datetime.now(UTC)
    failing = tuple(
        CheckItem("account", f"acc-{i:06d}", f"User {i}", "MFA is not enabled")
        for i in range(items)
    )
    marker = f"{index}|{time.time():.6f}"  # the clients measure from this instant
    result = CheckResult(
        org_id, CHECK, CheckStatus.FAILING, f"{items} accounts without MFA", failing, (),
        now, now, evidence_id=marker, id=f"res-{index}",
    )  # fmt: skip
    return result_event(result)


def _uvicorn_defaults(app: Any, settings: Any) -> Any:
    import uvicorn

    return uvicorn.Config(
        app, host=settings.host, port=settings.port, log_config=None, lifespan="on"
    )


async def _line(proc: asyncio.subprocess.Process) -> dict[str, Any]:
    """The next JSON line of a clients' process."""
    assert proc.stdout is not None
    line = await proc.stdout.readline()
    if not line:
        raise RuntimeError(f"a clients' process ended early (exit {await proc.wait()})")
    parsed: dict[str, Any] = json.loads(line)
    return parsed


async def run(args: argparse.Namespace) -> dict[str, Any]:
    import uvicorn

    from api.app import create_app

    try:
        from api.fanout import Outbox
        from api.serve import uvicorn_config
    except ImportError:  # a commit before the fan-out: measure it the same way, for comparison
        Outbox, uvicorn_config = None, _uvicorn_defaults  # type: ignore[assignment,misc]
    from api.settings import Settings
    from services.checks.events import CHECKS_CHANNEL
    from services.crypto import generate_key
    from services.events import topic_for
    from services.store import Store
    from services.store.client import connect
    from testkit.mongo import free_port, wire_server

    async with AsyncExitStack() as stack:
        if args.mongodb_url:
            store, kind = (
                Store.open(args.mongodb_url, f"vigil_bench_{uuid.uuid4().hex[:8]}"),
                "mongodb",
            )
        elif args.store == "wire":
            url = stack.enter_context(wire_server())
            store, kind = (
                Store.open(url, f"vigil_bench_{uuid.uuid4().hex[:8]}"),
                "wire (SecantusDB)",
            )
        else:
            client, embedded = connect(None)
            store, kind = Store(client, "vigil_bench", embedded=embedded), "embedded (mongomock)"
        port = free_port()
        settings = Settings(
            host="127.0.0.1",
            port=port,
            secret_key=generate_key(),
            evidence_hmac_key=generate_key(),
            allow_insecure_urls=True,
            public_url=f"http://127.0.0.1:{port}",
            run_worker=False,
            log_level="WARNING",
            # One key for every subscriber: lift the per-key caps meant for abuse.
            max_websockets_per_key=args.subscribers + 10,
            rate_limit_per_minute=10 * args.subscribers + 600,
        )
        app = create_app(settings, store=store)
        server = uvicorn.Server(uvicorn_config(app, settings))
        serving = asyncio.create_task(server.serve())
        while not server.started:
            if serving.done():
                serving.result()
            await asyncio.sleep(0.02)
        try:
            container = app.state.container
            org, created = await container.services.organizations.create_organization(
                "Fan-out bench"
            )
            await container.reevaluator.settle()
            topic = topic_for(org.id, CHECKS_CHANNEL)
            gc.collect()
            rss_base = rss_bytes()
            if args.trace_memory:
                import tracemalloc

                tracemalloc.start(1)
                snap0 = tracemalloc.take_snapshot()

            started = time.perf_counter()
            shares = [len(range(i, args.subscribers, args.client_processes))
                      for i in range(args.client_processes)]  # fmt: skip
            url = f"ws://127.0.0.1:{port}/graphql"
            procs = []
            for share in filter(None, shares):
                command = ("--clients", url, created.secret, str(share), str(args.events))
                procs.append(
                    await asyncio.create_subprocess_exec(
                        sys.executable, __file__, *command, stdout=subprocess.PIPE
                    )
                )
            n_ready = sum([(await _line(proc))["ready"] for proc in procs])
            connect_s = time.perf_counter() - started
            await asyncio.sleep(0.5)  # let the last writes settle
            gc.collect()
            rss_subscribed = rss_bytes()
            if args.trace_memory:
                snap1 = tracemalloc.take_snapshot()
                diff = snap1.compare_to(snap0, "lineno")
                for stat in diff[:25]:
                    print(stat, file=sys.stderr)
                total = sum(stat.size_diff for stat in diff) / args.subscribers / 1024
                print(f"traced Python heap per subscriber: {total:.1f} KB", file=sys.stderr)
            shared = container.bus.subscriber_count(topic)

            results = []
            peak = rss_subscribed
            profiler = None
            if args.profile:
                import cProfile

                profiler = cProfile.Profile()
                profiler.enable()
            cpu = 0.0
            written: list[float] = []
            for index in range(args.events):
                event = probe(org.id, index, args.items)
                with PeakSampler() as sampler:
                    cpu_before = time.process_time()
                    target = Outbox.written + n_ready if Outbox is not None else 0
                    published = time.perf_counter()
                    await container.bus.publish(topic, event)
                    while Outbox is not None and Outbox.written < target:  # noqa: ASYNC110 - a counter
                        await asyncio.sleep(0.001)
                    if Outbox is not None:
                        written.append(time.perf_counter() - published)
                    lines = [await _line(proc) for proc in procs]
                    cpu += time.process_time() - cpu_before
                peak = max(peak, sampler.peak)
                results.append(
                    {
                        "latencies": [x for line in lines for x in line["latencies"]],
                        "payloads": set().union(*(line["payloads"] for line in lines)),
                        "bytes": lines[0]["bytes"],
                        "items": lines[0]["items"],
                    }
                )
                await asyncio.sleep(args.gap)
            if profiler is not None:
                import pstats

                profiler.disable()
                stats = pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime")
                stats.print_stats(25)
            for proc in procs:
                await proc.wait()
            gc.collect()
            await asyncio.sleep(0.5)
            rss_after = rss_bytes()
        finally:
            if not store.embedded:
                await store.drop()  # before the server's shutdown closes the store
            server.should_exit = True
            await serving

    latencies = sorted(x * 1000 for r in results for x in r["latencies"])
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    n = n_ready
    per = {
        "subscribed_kb": (rss_subscribed - rss_base) / n / 1024,
        "delivery_peak_kb": (peak - rss_base) / n / 1024,
        "after_kb": (rss_after - rss_base) / n / 1024,
    }
    return {
        "subscribers": n,
        "events": args.events,
        "failing_items": results[0]["items"],
        "frame_bytes": results[0]["bytes"],
        "distinct_payloads_per_event": max(len(r["payloads"]) for r in results),
        "bus_subscriptions": shared,
        "connect_s": round(connect_s, 2),
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(p99, 1),
        "max_ms": round(latencies[-1], 1),
        "p99_over_target": round(p99 / TARGET_P99_MS, 2),
        # CPU of this process (the server) per event, over the whole delivery: the part of the
        # latency that does not depend on how busy the machine is.
        "server_cpu_ms_per_event": round(cpu * 1000 / args.events, 1),
        # From the publish until the server has handed the last frame to its socket.
        "server_written_p50_ms": round(statistics.median(written) * 1000, 1) if written else None,
        "server_written_max_ms": round(max(written) * 1000, 1) if written else None,
        "server_written_ms": [round(w * 1000) for w in written],
        "p99_ms_per_change": [
            round(sorted(r["latencies"])[int(len(r["latencies"]) * 0.99)] * 1000) for r in results
        ],
        "server_cpu_us_per_delivery": round(cpu * 1e6 / args.events / n, 1),
        "rss_base_mb": round(rss_base / 2**20, 1),
        **{k: round(v, 1) for k, v in per.items()},
        "memory_over_target": round(
            max(per["subscribed_kb"], per["delivery_peak_kb"]) / TARGET_KB, 2
        ),
        "store": kind,
        "machine": machine(),
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--clients":
        url, key, n, events = sys.argv[2:6]
        asyncio.run(clients(url, key, int(n), int(events)))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--events", type=int, default=10)
    parser.add_argument(
        "--items",
        type=int,
        default=100,
        help="failing items per result, at most 500 (a larger result travels without its items, "
        "which subscribers read from the store, and this bench stores none)",
    )
    parser.add_argument(
        "--client-processes", type=int, default=2, help="processes the subscribers are spread over"
    )
    parser.add_argument("--gap", type=float, default=0.2, help="seconds between events")
    parser.add_argument("--store", choices=("embedded", "wire"), default="embedded")
    parser.add_argument("--mongodb-url", default=None, help="a real MongoDB (overrides --store)")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile of the server during the events"
    )
    parser.add_argument(
        "--trace-memory",
        action="store_true",
        help="print where the subscribed sockets' memory goes (tracemalloc; RSS is then higher)",
    )
    args = parser.parse_args()
    if args.items > 500:
        parser.error("--items: at most 500 (services.checks.events.INLINE_ITEMS)")
    out = asyncio.run(run(args))
    print(json.dumps(out, indent=2))
    print(
        f"fan-out: one change to {out['subscribers']} subscribers ({out['failing_items']} "
        f"failing items, {out['frame_bytes']} B frames): p50 {out['p50_ms']} ms, p99 "
        f"{out['p99_ms']} ms — p99 ÷ target {out['p99_over_target']} (target < 200 ms), "
        f"server CPU {out['server_cpu_ms_per_event']} ms per change, last frame written "
        f"after {out['server_written_p50_ms']} ms (p50); "
        f"server RSS per subscriber {out['subscribed_kb']} KB subscribed, "
        f"{out['delivery_peak_kb']} KB at the delivery peak, {out['after_kb']} KB after — "
        f"÷ target {out['memory_over_target']} (target < 50 KB) | store {out['store']} | "
        f"{out['machine']}"
    )


if __name__ == "__main__":
    main()
