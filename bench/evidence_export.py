"""Peak memory of streaming an evidence export (SPEC §6.2: 100,000 records, constant memory).

The database is SecantusDB in its own process (or ``--mongodb-url``). This process bulk-loads
a valid chain of sealed records for one check, then starts ``vigil serve`` in **its own
process** and downloads ``GET /evidence/export`` in CSV and JSON while sampling the server's
RSS every 20 ms. Rows are counted with the csv module as they arrive.

    .venv/bin/python bench/evidence_export.py --records 100000
    .venv/bin/python bench/evidence_export.py --records 10000     # for comparison
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.api_keys import ApiKeyService  # noqa: E402
from services.crypto import generate_key, parse_key  # noqa: E402
from services.events import InMemoryEventBus  # noqa: E402
from services.evidence.chain import EvidenceKey  # noqa: E402
from services.evidence.chunks import chunk_values  # noqa: E402
from services.evidence.models import EvidenceEntry  # noqa: E402
from services.organizations import OrganizationService  # noqa: E402
from services.store import Store  # noqa: E402
from testkit.evidence_chain import ChainWriter  # noqa: E402
from testkit.mongo import wire_server  # noqa: E402

CHECK = "confluence-policy-current"
VIGIL = str(Path(sys.executable).with_name("vigil"))
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def entry(org: str, n: int, pages: int) -> EvidenceEntry:
    """A realistic change of the policy-current check: a few failing pages, ``pages`` seen."""
    failing = [
        {
            "resourceType": "confluence_page",
            "resourceId": str(65536 + i),
            "name": f"Policy {i}",
            "reason": "last modified 2023-01-01, 400 days ago (over 365 days)",
        }
        for i in range(n % 4)
    ]
    population = [
        {
            "policyType": f"TYPE_{i}",
            "pageId": str(65536 + i),
            "title": f"Policy {i}",
            "version": n % 30 + 1,
            "pageStatus": "current",
            "missingSections": [],
            "lastModifiedAt": "2025-06-01T00:00:00+00:00",
        }
        for i in range(pages)
    ]
    lists = [chunk_values(v) for v in (population, failing, [], [])]  # format 2 (ADR 011)
    pages_seen, failing_items, excepted, exceptions = lists
    return EvidenceEntry(
        organization_id=org,
        check_id=CHECK,
        evaluated_at=T0 + timedelta(minutes=n),
        result={
            "status": "FAILING" if failing else "PASSING",
            "failingItems": failing_items.ref(),
            "exceptedItems": excepted.ref(),
            "exceptions": exceptions.ref(),
        },
        population={"kind": "pages", "items": pages_seen.ref()},
        snapshot_id=f"snap_{n // 100}",
        snapshot_at=T0 + timedelta(minutes=n),
        lists=tuple(lists),
    )


async def load(url: str, db: str, count: int, pages: int, key: EvidenceKey) -> tuple[str, str]:
    """Create an organization and its ADMIN key; bulk-load ``count`` chained records."""
    store = Store.open(url, db)
    await store.ensure_indexes()
    keys = ApiKeyService(
        InMemoryEventBus(), organizations=store.organizations, api_keys=store.api_keys
    )
    org, created = await OrganizationService(
        keys, organizations=store.organizations
    ).create_organization("Bench")
    chain = ChainWriter(store, org.id, key)
    for n in range(1, count + 1):
        sealed = entry(org.id, n, pages)
        await chain.put_lists(sealed.lists)
        await chain.append(sealed, record_id=f"evd_{n:07d}", recorded_at=T0 + timedelta(minutes=n))
    await chain.finish()
    store.close()
    return org.id, created.secret


def production_env(url: str, db: str, hmac_key: str, **settings: str) -> dict[str, str]:
    """The environment of a production ``vigil serve`` on database ``db`` at ``url``: this
    process's, without its ``VIGIL_`` settings, then a fresh secret key and ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    env.update(
        VIGIL_ENV="production",
        VIGIL_MONGODB_URL=url,
        VIGIL_MONGODB_DB=db,
        VIGIL_SECRET_KEY=generate_key(),
        VIGIL_EVIDENCE_HMAC_KEY=hmac_key,
        **settings,
    )
    return env


def serve(
    env: dict[str, str], log: Any = subprocess.DEVNULL, source: str | None = None
) -> tuple[subprocess.Popen[str], str]:
    """``vigil serve --no-worker`` (of the source tree ``source``, e.g. an older commit's
    ``git archive``, when given), its log to ``log``; its URL once it listens."""
    command = [VIGIL]
    if source is not None:
        command = [sys.executable, "-c", "from api.cli import app; app()"]
        env = {**env, "PYTHONPATH": source}
    proc = subprocess.Popen(
        [*command, "serve", "--port", "0", "--no-worker"],
        env=env,
        cwd=source,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if m := re.search(r"listening on (http://\S+)", line):
            threading.Thread(target=proc.stdout.read, daemon=True).start()  # drain the rest
            return proc, m.group(1)
    raise RuntimeError("vigil serve did not start")


def download(url: str, key: str, fmt: str, pid: int) -> dict[str, Any]:
    """Stream one export, counting rows, while a thread samples the server's RSS."""
    server = psutil.Process(pid)
    before = server.memory_info().rss
    peak, done = [before], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], server.memory_info().rss)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    started, size, rows = time.monotonic(), 0, 0
    params = {"checkId": CHECK, "format": fmt}
    try:
        with httpx.stream(
            "GET",
            f"{url}/evidence/export",
            params=params,
            timeout=600,
            headers={"Authorization": f"Bearer {key}"},
        ) as response:
            response.raise_for_status()
            lines = response.iter_lines()
            if fmt == "csv":  # canonical JSON never holds a raw newline: one line per row
                rows = sum(1 for _ in csv.reader(lines)) - 1
            else:
                rows = sum(1 for line in lines if line.startswith('{"hmac"'))
            size = response.num_bytes_downloaded
    finally:
        done.set()
        sampler.join()
    return {
        "format": fmt,
        "rows": rows,
        "mb": round(size / 2**20, 1),
        "seconds": round(time.monotonic() - started, 1),
        "server_rss_before_mb": round(before / 2**20, 1),
        "server_rss_peak_mb": round(peak[0] / 2**20, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--pages", type=int, default=16, help="population size per record")
    parser.add_argument("--mongodb-url", default=None, help="a real MongoDB (default: SecantusDB)")
    args = parser.parse_args()
    hmac_key = generate_key()
    db = f"vigil_bench_{uuid.uuid4().hex[:8]}"
    results: dict[str, Any] = {"records": args.records}
    with ExitStack() as stack:
        url = args.mongodb_url or stack.enter_context(wire_server())
        started = time.monotonic()
        key = EvidenceKey(parse_key(hmac_key))
        org, api_key = asyncio.run(load(url, db, args.records, args.pages, key))
        results["load_seconds"] = round(time.monotonic() - started, 1)
        env = production_env(url, db, hmac_key, VIGIL_RATE_LIMIT_PER_MINUTE="100000")
        proc, base = serve(env)
        try:
            results["exports"] = [download(base, api_key, f, proc.pid) for f in ("csv", "json")]
        finally:
            proc.terminate()
            proc.wait(10)
    results["database"] = "mongodb" if args.mongodb_url else "secantusdb"
    results["organization"] = org
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
