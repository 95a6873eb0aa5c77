"""The auditor's package at scale: 100,000 accounts over six months, on the wire server.

Seeds (directly, no sync): a snapshot of 100,000 accounts (testkit.access_scale), 180 days of
evidence — each day the five access checks are recorded over the day's population, which
changes a few accounts every week — then, each in a child process of its own:

1. ``export``: ``AuditPackages.write`` for the six months to a file; peak RSS of that process
   (``ru_maxrss``) and wall time;
2. ``verify``: ``python verify_bundle.py`` on it; wall time.

Usage: .venv/bin/python bench/audit_bundle.py [--accounts 100000] [--days 180]
Targets (issue 27): peak RSS < 400 MB, verified in under a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.container import build_audit, build_evidence  # noqa: E402
from api.settings import Settings  # noqa: E402
from services.audit.package import parse_period  # noqa: E402
from services.checks.access.population import population_item  # noqa: E402
from services.evidence.chain import canonical_json  # noqa: E402
from services.evidence.chunks import chunk_texts, chunk_values, cuts_after  # noqa: E402
from services.evidence.models import EvidenceEntry  # noqa: E402
from services.models import Principal, Role  # noqa: E402
from services.store import Store  # noqa: E402
from services.sync.models import SnapshotScope  # noqa: E402
from testkit.access_scale import access_data  # noqa: E402
from testkit.evidence_chain import ChainWriter  # noqa: E402
from testkit.mongo import wire_server  # noqa: E402

ACCESS_CHECKS = (
    "confluence-offboarded-access-removed",
    "confluence-user-identified",
    "confluence-access-valid",
    "confluence-mfa-enabled",
    "confluence-access-review-completed",
)
START = datetime(2026, 1, 1, 6, tzinfo=UTC)
SECRET = base64.b64encode(b"s" * 32).decode()
HMAC = base64.b64encode(b"h" * 32).decode()


def _settings() -> Settings:
    return Settings(env="development", secret_key=SECRET, evidence_hmac_key=HMAC)


async def seed(url: str, db: str, accounts: int, days: int) -> str:
    store = Store.open(url, db)
    await store.ensure_indexes()
    org = await store.organizations.create(name="Scale")
    data = access_data(accounts, START, organization_id=org.id)
    scope = SnapshotScope("snap_scale", "int_scale", org.id)
    for i in range(0, len(data.accounts), 5000):
        await store.snapshot_data.insert_accounts(scope, data.accounts[i : i + 5000])
    items = [population_item(a, data.identities.get(a.account_id)) for a in data.accounts]
    texts = [canonical_json(i) for i in items]
    cuts = [cuts_after(t) for t in texts]
    evidence = build_evidence(_settings(), store)
    key = evidence.key  # the bench seals directly, as appends would
    chain = ChainWriter(store, org.id, key)
    population = chunk_texts(texts, cuts=cuts)
    for day in range(days):
        if day % 7 == 6:  # a few accounts change every week (MFA turned on)
            for k in range(10):
                n = (day * 37 + k * 101) % len(items)
                items[n] = {**items[n], "mfaEnabled": True}
                texts[n] = canonical_json(items[n])
                cuts[n] = cuts_after(texts[n])
            population = chunk_texts(texts, cuts=cuts)
        await chain.put_lists([population])
        for c, check in enumerate(ACCESS_CHECKS):
            failing = chunk_values(
                [
                    {
                        "resourceType": "account",
                        "resourceId": f"acc-{day}-{k}",
                        "name": None,
                        "reason": "x",
                    }
                    for k in range(day % 5)
                ]
            )
            empty = chunk_values([])
            await chain.put_lists([failing, empty])
            when = START + timedelta(days=day, minutes=c)
            await chain.append(
                EvidenceEntry(
                    organization_id=org.id,
                    check_id=check,
                    evaluated_at=when,
                    result={
                        "status": "FAILING" if day % 5 else "PASSING",
                        "failingItems": failing.ref(),
                        "exceptedItems": empty.ref(),
                        "exceptions": empty.ref(),
                    },
                    population={"kind": "accounts", "items": population.ref()},
                    snapshot_id="snap_scale",
                    integration_id="int_scale",
                    snapshot_at=START,
                ),
                record_id=f"evd_scale_{chain.sequence + 1:06d}",
                recorded_at=when,
            )
    await chain.finish()
    store.close()
    return org.id


async def write(
    url: str, db: str, org: str, days: int, file: IO[bytes]
) -> tuple[dict[str, Any], str]:
    store = Store.open(url, db)
    evidence = build_evidence(_settings(), store)
    packages = build_audit(evidence, store)
    last = (START + timedelta(days=days - 1)).date().isoformat()
    principal = Principal(org, Role.ADMIN, "bench")
    manifest = await packages.write(principal, parse_period("2026-01-01", last), file)
    pem = await evidence.public_key(principal)
    store.close()
    return manifest, pem


def export(url: str, db: str, out: str, org: str, days: int) -> None:
    started = time.monotonic()
    with open(out, "wb") as file:
        manifest, pem = asyncio.run(write(url, db, org, days, file))
    Path(out + ".pem").write_text(pem)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures = {
        "seconds": round(time.monotonic() - started, 1),
        "peak_rss_mb": round(rss),
        "records": manifest["evidence"]["records"],
    }
    print(json.dumps(figures))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--export", nargs=4, metavar=("URL", "DB", "OUT", "ORG"))
    args = parser.parse_args()
    if args.export:
        url, db, out, org = args.export
        export(url, db, out, org, args.days)
        return
    with wire_server() as url, tempfile.TemporaryDirectory() as tmp:
        db = "audit_bench"
        started = time.monotonic()
        org = asyncio.run(seed(url, db, args.accounts, args.days))
        took = time.monotonic() - started
        print(f"seeded {args.accounts} accounts, {args.days} days in {took:.0f} s")
        out = str(Path(tmp) / "package.zip")
        done = subprocess.run(
            [sys.executable, __file__, "--days", str(args.days), "--export", url, db, out, org],
            capture_output=True,
            text=True,
            check=True,
        )
        print("export:", done.stdout.strip().splitlines()[-1])
        print(f"package: {Path(out).stat().st_size / 1e6:.1f} MB")
        started = time.monotonic()
        verified = subprocess.run(
            [sys.executable, str(ROOT / "verify_bundle.py"), out, "--public-key", out + ".pem"],
            capture_output=True,
            text=True,
        )
        print(f"verify: {time.monotonic() - started:.1f} s: {verified.stdout.strip()[:160]}")


if __name__ == "__main__":
    main()
