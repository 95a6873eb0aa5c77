"""Abuse beside a normal client: a live server on the wire store under every attack at once.

SecantusDB runs in its own process (or ``--mongodb-url``), seeded with ``--records`` sealed
evidence records of one check (``bench/evidence_export.py``'s loader) and one API key per
client; ``vigil serve --no-worker`` runs in its own process with the production defaults.
Then, in processes of their own:

- a **normal client** asks ``me { role organization { id name } }`` (the key and its
  organization read from the database) 10 times a second, from the start to the end, and
  notes each latency;
- after a warm-up, for ``--attack-seconds``, **the attackers** (each with a key of its own,
  as a caller of any role could have):
  - ``alias``: 4 clients repeating 30 aliases of ``evidence(first: 500) { record }``;
  - ``http``: 20 clients that ask for the largest answer the budget allows (500 records with
    their canonical JSON) and never read it (4 KB receive buffers), re-asking when dropped;
  - ``ws``: 10 WebSockets that subscribe and ask 20 such answers each, never reading,
    reconnecting when dropped;
  - ``flood``: requests without a valid key on 8 keep-alive connections, as fast as they go;
  - ``slow``: 50 connections that send a body of 100 KB one byte a second;
  - ``surrogate``: ``upsertPeople`` with ``"\\ud800"`` in every string, back to back;
- then everyone but the normal client leaves and the server is watched ``--after-seconds``.

The server's RSS is sampled every 50 ms. Printed, each beside its target: the normal
client's p50 / p99 before and during the attacks (p99 < 250 ms), the server's RSS at the
baseline (end of the warm-up), its peak during the attacks (growth < 150 MB) and at the end
(within 50 MB of the baseline, 30 s after the attackers left), what each attacker got, the
store and the machine (load average: other work on it shows there).

    .venv/bin/python bench/abuse.py                       # 1,000 records, 30 s + 30 s
    .venv/bin/python bench/abuse.py --quick               # 200 records, 8 s + 10 s (bench-quick)
    .venv/bin/python bench/abuse.py --mongodb-url mongodb://localhost:27017/?replicaSet=rs0
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from contextlib import ExitStack, suppress
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psutil
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from evidence_export import CHECK, load, production_env, serve  # noqa: E402
from sync_wall import machine  # noqa: E402

from services.api_keys import ApiKeyService  # noqa: E402
from services.crypto import generate_key, parse_key  # noqa: E402
from services.events import InMemoryEventBus  # noqa: E402
from services.evidence.chain import EvidenceKey  # noqa: E402
from services.models import Role  # noqa: E402
from services.store import Store  # noqa: E402
from testkit.mongo import wire_server  # noqa: E402

TARGET_P99_MS = 250.0
TARGET_GROWTH_MB = 150.0
TARGET_BACK_MB = 50.0
CLIENTS = ("normal", "alias", "http", "ws", "surrogate")
# A console's everyday read: the key and its organization, two reads of the database.
NORMAL = "query Normal { me { role organization { id name } } }"
RECORDS = f'evidence(checkId: "{CHECK}", first: 500) {{ edges {{ node {{ record }} }} }}'
ALIASES = "{ " + " ".join(f"a{i}: {RECORDS}" for i in range(30)) + " }"
LARGEST = (
    f'{{ evidence(checkId: "{CHECK}", first: 500) '
    "{ edges { node { record canonicalJson } } } }"
)
SURROGATE = (
    "mutation($input: [PersonInput!]!) { upsertPeople(input: $input) { userErrors { code } } }"
)
PROTOCOL = Subprotocol("graphql-transport-ws")
#: Where each client comes from (all of 127.0.0.0/8 is loopback): the per-address limit of
#: failed authentications must not make the flood's address everyone's.
ADDRESS = {
    "normal": "127.0.0.1",
    "alias": "127.0.0.2",
    "http": "127.0.0.3",
    "ws": "127.0.0.4",
    "slow": "127.0.0.5",
    "surrogate": "127.0.0.6",
    "flood": "127.0.0.7",
}


def client(base: str, key: str, who: str) -> httpx.AsyncClient:
    """An HTTP client of ``who``, from its own address."""
    return httpx.AsyncClient(
        base_url=base,
        timeout=30,
        headers={"Authorization": f"Bearer {key}"},
        transport=httpx.AsyncHTTPTransport(local_address=ADDRESS[who]),
    )


def bound_socket(who: str) -> socket.socket:
    """A TCP socket from ``who``'s address that reads next to nothing (4 KB buffer)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.bind((ADDRESS[who], 0))
    return sock


async def make_keys(url: str, db: str, org: str) -> dict[str, str]:
    """One key per client (the normal one is the loader's ADMIN key)."""
    store = Store.open(url, db)
    keys = ApiKeyService(
        InMemoryEventBus(), organizations=store.organizations, api_keys=store.api_keys
    )
    made = {
        name: (await keys.create_api_key_for(org, Role.VIEWER, name)).secret
        for name in CLIENTS
        if name != "normal"
    }
    store.close()
    return made


def request_bytes(host: str, key: str | None, body: str, path: str = "/graphql") -> bytes:
    auth = f"Authorization: Bearer {key}\r\n" if key else ""
    data = body.encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


# --- the normal client ---------------------------------------------------------------------


def normal_client(base: str, key: str, stop: Any, out: Any) -> None:
    """10 requests a second until ``stop`` is set: ``(sent at, ms, ok)`` each."""

    async def run() -> list[tuple[float, float, bool]]:
        samples: list[tuple[float, float, bool]] = []
        async with client(base, key, "normal") as http:
            tick = time.monotonic()
            while not stop.is_set():
                sent = time.monotonic()
                try:
                    resp = await http.post("/graphql", json={"query": NORMAL})
                    ok = resp.status_code == 200 and "errors" not in resp.json()
                except httpx.HTTPError:
                    ok = False
                at = time.time() - (time.monotonic() - sent)
                samples.append((at, (time.monotonic() - sent) * 1000, ok))
                tick = max(tick + 0.1, time.monotonic())  # a late answer delays the next ask
                await asyncio.sleep(max(0.0, tick - time.monotonic()))
        return samples

    out.put(("normal", asyncio.run(run())))


# --- the attackers ---------------------------------------------------------------------------


async def alias_attack(base: str, key: str, until: float, tally: Counter[str]) -> None:
    async with client(base, key, "alias") as http:
        while time.monotonic() < until:
            resp = await http.post("/graphql", json={"query": ALIASES})
            errors = resp.json().get("errors") or [{}]
            tally[f"alias {resp.status_code} {errors[0].get('extensions', {}).get('code')}"] += 1


async def http_nonreader(host: str, port: int, key: str, until: float, tally: Counter[str]) -> None:
    """Ask for the largest answer and never read it; ask again when the server drops us."""
    loop = asyncio.get_running_loop()
    request = request_bytes(host, key, json.dumps({"query": LARGEST}))
    while time.monotonic() < until:
        sock = bound_socket("http")
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, (host, port))
            await loop.sock_sendall(sock, request)
            tally["http asked"] += 1
            while time.monotonic() < until:  # peek (reading nothing) to see if we were dropped
                await asyncio.sleep(0.5)
                try:
                    if sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b"":
                        break
                except BlockingIOError:
                    continue
                except OSError:
                    tally["http dropped by the server"] += 1
                    break
        except OSError:
            tally["http connect failed"] += 1
            await asyncio.sleep(0.5)
        finally:
            sock.close()


async def ws_nonreader(
    ws_url: str, host: str, port: int, key: str, until: float, tally: Counter[str]
) -> None:
    """Subscribe, ask 20 of the largest answers on the socket, never read."""
    init = json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {key}"}})
    while time.monotonic() < until:
        sock = bound_socket("ws")
        try:
            sock.connect((host, port))
            async with connect(
                ws_url, sock=sock, subprotocols=[PROTOCOL], max_queue=1, max_size=None
            ) as ws:
                tally["ws opened"] += 1
                await ws.send(init)
                sub = "subscription { checkResultUpdated { checkId status } }"
                await ws.send(
                    json.dumps({"id": "s", "type": "subscribe", "payload": {"query": sub}})
                )
                for i in range(20):
                    frame = {"id": f"q{i}", "type": "subscribe", "payload": {"query": LARGEST}}
                    await ws.send(json.dumps(frame))
                remaining = until - time.monotonic()
                if remaining > 0:
                    with suppress(TimeoutError):
                        await asyncio.wait_for(ws.wait_closed(), remaining)
                if ws.close_code is not None:
                    tally[f"ws closed by the server ({ws.close_code})"] += 1
        except Exception as exc:  # refused (socket cap, rate) or dropped: try again
            tally[f"ws {type(exc).__name__}"] += 1
            await asyncio.sleep(0.5)
        finally:
            sock.close()


async def slow_body(host: str, port: int, until: float, tally: Counter[str]) -> None:
    """A 100 KB body, one byte a second."""
    while time.monotonic() < until:
        try:
            reader, writer = await asyncio.open_connection(
                host, port, local_addr=(ADDRESS["slow"], 0)
            )
        except OSError:
            tally["slow connect failed"] += 1
            await asyncio.sleep(0.5)
            continue
        writer.write(
            f"POST /graphql HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            "Content-Length: 100000\r\n\r\n".encode()
        )
        try:
            while time.monotonic() < until:
                writer.write(b" ")
                await writer.drain()
                with suppress(TimeoutError):
                    answer = await asyncio.wait_for(reader.read(64), 1.0)
                    status = answer.split(b" ")[1].decode() if answer else "closed"
                    tally[f"slow answered {status}"] += 1
                    break
        except OSError:
            tally["slow dropped"] += 1
        finally:
            writer.close()


async def surrogates(base: str, key: str, until: float, tally: Counter[str]) -> None:
    person = {"email": "\ud800@example.com", "name": "\ud800"}
    body = json.dumps({"query": SURROGATE, "variables": {"input": [person]}})
    async with client(base, key, "surrogate") as http:
        while time.monotonic() < until:
            resp = await http.post(
                "/graphql", content=body, headers={"content-type": "application/json"}
            )
            errors = resp.json().get("errors") or [{}]
            tally[
                f"surrogate {resp.status_code} {errors[0].get('extensions', {}).get('code')}"
            ] += 1


def attackers(
    base: str, keys: dict[str, str], seconds: float, scale: dict[str, int], out: Any
) -> None:
    """Every attacker but the flood, for ``seconds``."""
    parts = urlsplit(base)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    ws_url = base.replace("http://", "ws://") + "/graphql"

    async def run() -> Counter[str]:
        tally: Counter[str] = Counter()
        until = time.monotonic() + seconds
        tasks = [
            *(alias_attack(base, keys["alias"], until, tally) for _ in range(scale["alias"])),
            *(http_nonreader(host, port, keys["http"], until, tally) for _ in range(scale["http"])),
            *(
                ws_nonreader(ws_url, host, port, keys["ws"], until, tally)
                for _ in range(scale["ws"])
            ),
            *(slow_body(host, port, until, tally) for _ in range(scale["slow"])),
            *(surrogates(base, keys["surrogate"], until, tally) for _ in range(scale["surrogate"])),
        ]
        await asyncio.gather(*tasks, return_exceptions=True)
        return tally

    out.put(("attackers", dict(asyncio.run(run()))))


def flood(base: str, seconds: float, connections: int, out: Any) -> None:
    """Requests with a key that does not exist, on keep-alive connections, back to back."""
    parts = urlsplit(base)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = request_bytes(host, "vgl_" + "x" * 43, json.dumps({"query": "{ me { role } }"}))

    async def one(until: float, tally: Counter[str]) -> None:
        while time.monotonic() < until:
            try:
                reader, writer = await asyncio.open_connection(
                    host, port, local_addr=(ADDRESS["flood"], 0)
                )
                while time.monotonic() < until:
                    writer.write(request)
                    head = await reader.readuntil(b"\r\n\r\n")
                    status = head.split(b" ")[1].decode()
                    length = next(
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    )
                    await reader.readexactly(length)
                    tally[f"flood {status}"] += 1
                    if b"connection: close" in head.lower():
                        break
                writer.close()
            except (OSError, asyncio.IncompleteReadError):
                tally["flood connection lost"] += 1

    async def run() -> Counter[str]:
        tally: Counter[str] = Counter()
        until = time.monotonic() + seconds
        await asyncio.gather(*(one(until, tally) for _ in range(connections)))
        tally["flood requests per second"] = round(
            sum(v for k, v in tally.items() if k.startswith("flood ") and k[6:].isdigit()) / seconds
        )
        return tally

    out.put(("flood", dict(asyncio.run(run()))))


# --- measuring -----------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run (make bench-quick)")
    parser.add_argument("--records", type=int, default=None)
    parser.add_argument("--warmup-seconds", type=float, default=None)
    parser.add_argument("--attack-seconds", type=float, default=None)
    parser.add_argument("--after-seconds", type=float, default=None)
    parser.add_argument("--mongodb-url", default=None, help="a real MongoDB (default: SecantusDB)")
    parser.add_argument(
        "--only", default=None, help="some attackers only, e.g. flood,http (default: all)"
    )
    parser.add_argument(
        "--source",
        default=None,
        help="serve another source tree (e.g. `git archive main | tar -x -C DIR`) for a before",
    )
    args = parser.parse_args()
    quick = args.quick
    records = args.records or (200 if quick else 1000)
    warmup = args.warmup_seconds or (4.0 if quick else 10.0)
    attack = args.attack_seconds or (8.0 if quick else 30.0)
    after = args.after_seconds or (10.0 if quick else 30.0)
    scale = {"alias": 4, "http": 20, "ws": 10, "slow": 50, "flood": 8, "surrogate": 1}
    if quick:
        scale = {"alias": 2, "http": 5, "ws": 3, "slow": 10, "flood": 2, "surrogate": 1}
    if args.only:
        scale = {k: v if k in args.only.split(",") else 0 for k, v in scale.items()}
    hmac_key = generate_key()
    db = f"vigil_abuse_{uuid.uuid4().hex[:8]}"
    report: dict[str, Any] = {"records": records, "attack_seconds": attack, "clients": scale}
    ctx = mp.get_context("spawn")
    with ExitStack() as stack:
        url = args.mongodb_url or stack.enter_context(wire_server())
        org, admin = asyncio.run(load(url, db, records, 16, EvidenceKey(parse_key(hmac_key))))
        keys = asyncio.run(make_keys(url, db, org))
        env = production_env(url, db, hmac_key)
        server_log = stack.enter_context(tempfile.NamedTemporaryFile("w+", suffix=".log"))
        proc, base = serve(env, server_log, args.source)
        stack.callback(proc.wait, 10)
        stack.callback(proc.terminate)
        server = psutil.Process(proc.pid)
        samples: list[tuple[float, int]] = []
        stop = threading.Event()
        t0 = time.time()

        def sample() -> None:
            while not stop.is_set():
                try:
                    samples.append((time.time(), server.memory_info().rss))
                except psutil.NoSuchProcess:
                    server_log.seek(0)
                    print("the server died:\n" + server_log.read()[-4000:], file=sys.stderr)
                    os._exit(1)
                time.sleep(0.05)

        sampler = threading.Thread(target=sample)
        sampler.start()
        out = ctx.Queue()
        normal_stop = ctx.Event()
        normal = ctx.Process(target=normal_client, args=(base, admin, normal_stop, out))
        normal.start()
        time.sleep(warmup)
        baseline = server.memory_info().rss
        attack_started = time.time()
        cpu_before = sum(server.cpu_times()[:2])
        loads = [os.getloadavg()[0]]
        workers = [
            ctx.Process(target=attackers, args=(base, keys, attack, scale, out)),
            ctx.Process(target=flood, args=(base, attack, scale["flood"], out)),
        ]
        for worker in workers:
            worker.start()
        results: dict[str, Any] = {}
        for _ in workers:
            name, value = out.get(timeout=attack + 120)
            results[name] = value
        for worker in workers:
            worker.join()
        attack_ended = time.time()
        cpu_during = sum(server.cpu_times()[:2]) - cpu_before
        loads.append(os.getloadavg()[0])
        time.sleep(max(0.0, attack_ended + after - time.time()))
        end_rss = server.memory_info().rss
        normal_stop.set()
        name, latencies = out.get(timeout=120)
        results[name] = latencies
        normal.join()
        stop.set()
        sampler.join()
    during = [ms for (t, ms, _) in results["normal"] if attack_started <= t < attack_ended]
    before = [ms for (t, ms, _) in results["normal"] if t0 + 2.0 <= t < attack_started]
    failed = sum(1 for (_, _, ok) in results["normal"] if not ok)
    peak = max(rss for (t, rss) in samples if attack_started <= t <= attack_ended + 1)
    mb = 2**20
    p99 = percentile(during, 0.99)
    report.update(
        {
            "normal_before_ms": {
                "p50": round(statistics.median(before), 1),
                "p99": round(percentile(before, 0.99), 1),
            },
            "normal_during_ms": {
                "p50": round(statistics.median(during), 1),
                "p99": round(p99, 1),
                "max": round(max(during), 1),
                "requests": len(during),
                "failed": failed,
            },
            "p99_vs_target": f"{p99:.0f} / {TARGET_P99_MS:.0f} ms = {p99 / TARGET_P99_MS:.2f}",
            "server_rss_mb": {
                "baseline": round(baseline / mb, 1),
                "peak_during": round(peak / mb, 1),
                f"{after:g}_s_after": round(end_rss / mb, 1),
            },
            "growth_vs_target": f"{(peak - baseline) / mb:.1f} / {TARGET_GROWTH_MB:.0f} MB",
            "after_vs_target": (
                f"{abs(end_rss - baseline) / mb:.1f} / {TARGET_BACK_MB:.0f} MB from the baseline"
            ),
            "server_cpu_share_during": round(cpu_during / (attack_ended - attack_started), 2),
            "attackers": {**results["attackers"], **results["flood"]},
            "load_average": [round(v, 1) for v in loads],
            "server": args.source or "this tree",
            "database": "mongodb" if args.mongodb_url else "secantusdb",
            "machine": machine(),
        }
    )
    print(json.dumps(report, indent=2, default=str))
    ok = (
        p99 < TARGET_P99_MS
        and (peak - baseline) / mb < TARGET_GROWTH_MB
        and abs(end_rss - baseline) / mb < TARGET_BACK_MB
    )
    print("targets met" if ok else "TARGETS MISSED (see above)")


if __name__ == "__main__":
    main()
