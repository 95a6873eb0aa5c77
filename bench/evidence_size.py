"""The largest document in any collection after every access check is evaluated and recorded
over N accounts (issue 24: under 4 MB, the store's limit; MongoDB refuses 16 MB), with the
evidence verified and one change recorded after it.

Per size, on the wire server (SecantusDB, or ``--mongodb-url``) or the embedded store: the
access data of ``tests/evidence/scale.py`` (90 % staff linked to people, 10 % unidentified, a
third without MFA) is built in memory and handed to the check engine with the production
evidence recorder (no sync: what is measured is what evaluation writes). Then:

- **cold**: every access check evaluated and recorded (results, history, items, evidence);
- **change**: one unidentified account becomes staff (a new population that differs in one
  account): how many evidence blobs it writes, against the chunks of one population;
- **verify**: the whole chain, every chunk re-hashed;
- **largest**: the largest document of every collection, measured by the server
  (``$bsonSize``), and which checks have no stored result (on a code base that cannot
  record them).

    .venv/bin/python bench/evidence_size.py                        # 20k and 100k, wire
    .venv/bin/python bench/evidence_size.py --sizes 100000 --store embedded
    .venv/bin/python bench/evidence_size.py --quick                # 2,000 accounts
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from contextlib import AsyncExitStack
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bson
from sync_wall import machine

from api.container import build_evidence
from api.settings import Settings
from services.checks.access.data import ACCESS
from services.checks.engine import CheckEngine
from services.checks.registry import CHECKS
from services.crypto import generate_key
from services.events import InMemoryEventBus
from services.evidence.recorder import EvidenceRecorder
from services.identity.models import Classification, Identity, IdentityMethod
from services.models import Principal, Role
from services.store import Store
from testkit.access_scale import ORG, Given, access_data
from testkit.live import open_bench_store

LIMIT = 4 * 1024 * 1024
MONGODB_LIMIT = 16 * 1024 * 1024


async def largest_documents(store: Store) -> dict[str, int]:
    """The BSON size of the largest document of every collection (server-side on a real
    server; encoded here on the embedded store, which has no ``$bsonSize``)."""
    db: Any = store._db
    sizes: dict[str, int] = {}
    for name in sorted(await db.list_collection_names()):
        if store.embedded:
            sizes[name] = max([len(bson.encode(d)) async for d in db[name].find()], default=0)
            continue
        pipeline = [{"$project": {"size": {"$bsonSize": "$$ROOT"}}}, {"$sort": {"size": -1}}]
        top = await db[name].aggregate([*pipeline, {"$limit": 1}]).to_list(1)
        sizes[name] = int(top[0]["size"]) if top else 0
    return sizes


def one_identified(given: Given) -> None:
    """The first unidentified account is linked to a person (a new population, one item)."""
    data = given.data
    account = next(a for a in data.accounts if a.account_id not in data.identities)
    person = next(iter(data.people.values()))
    identity = Identity(
        account.account_id,
        Classification.STAFF,
        person_id=person.id,
        method=IdentityMethod.MANUAL,
    )
    given.data = replace(data, identities={**data.identities, account.account_id: identity})


async def measure(args: argparse.Namespace, n: int) -> dict[str, Any]:
    async with AsyncExitStack() as stack:
        store, kind = open_bench_store(stack, args.mongodb_url, args.store)
        await store.ensure_indexes()
        try:
            now = datetime.now(UTC).replace(microsecond=0)
            given = Given(access_data(n, now))
            evidence = build_evidence(
                Settings(env="development", evidence_hmac_key=generate_key()), store
            )
            recorder = EvidenceRecorder(
                evidence, integrations=store.integrations, check_exceptions=store.check_exceptions
            )
            access = [c for c in CHECKS if c.source == ACCESS]
            engine = CheckEngine(
                InMemoryEventBus(),
                check_results=store.check_results,
                checks=access,
                sources={ACCESS: given},
                record_evidence=recorder,
                clock=lambda: now,
            )
            started = time.perf_counter()
            await engine.evaluate(ORG)
            cold = time.perf_counter() - started
            written = getattr(evidence, "blobs_written", None)
            one_identified(given)
            started = time.perf_counter()
            changed = [e.check.id for e in await engine.evaluate(ORG) if e.changed]
            change = time.perf_counter() - started
            after = getattr(evidence, "blobs_written", None)
            viewer = Principal(organization_id=ORG, role=Role.VIEWER, api_key_id="bench")
            started = time.perf_counter()
            status = await evidence.verify(viewer)
            verify = time.perf_counter() - started
            states = await store.check_results.states(organization_id=ORG)
            sizes = await largest_documents(store)
            chunks = await store._db["evidence_chunks"].count_documents({})
        finally:
            if not store.embedded:
                await store.drop()
            store.close()
    return {
        "accounts": n,
        "store": kind,
        "cold_evaluation_s": round(cold, 2),
        "change_evaluation_s": round(change, 2),
        "verify_s": round(verify, 2),
        "chain_valid": status.valid,
        "records": status.checked_count,
        "unrecorded_checks": sorted(c.id for c in access if c.id not in states),
        "changed_checks": changed,
        "blobs_cold": written,
        "blobs_written_by_the_change": None
        if after is None or written is None
        else after - written,
        "evidence_chunk_documents": chunks,
        "largest": dict(sorted(sizes.items(), key=lambda kv: -kv[1])),
    }


def lines(result: dict[str, Any]) -> list[str]:
    n, where = result["accounts"], f"store {result['store']} | {machine()}"
    name, size = next(iter(result["largest"].items()))
    verdict = "≤ 1 meets it" if size < LIMIT else "over the limit"
    return [
        f"largest document after evaluating {n:,} accounts: {size:,} bytes in {name} / limit "
        f"{LIMIT:,} = {size / LIMIT:.3f} ({verdict}; MongoDB's limit {MONGODB_LIMIT:,}) | {where}",
        f"  every access check recorded: {not result['unrecorded_checks']} "
        f"(unrecorded: {result['unrecorded_checks']}); chain valid: {result['chain_valid']} "
        f"({result['records']} records, verified in {result['verify_s']:.2f} s)",
        f"  cold evaluation and recording {result['cold_evaluation_s']:.2f} s; one changed "
        f"identity: {result['change_evaluation_s']:.2f} s, {result['blobs_written_by_the_change']} "
        f"new blobs of {result['evidence_chunk_documents']} stored",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--store", choices=("embedded", "wire"), default="wire")
    parser.add_argument("--mongodb-url", default=None, help="a real MongoDB (overrides --store)")
    parser.add_argument("--quick", action="store_true", help="2,000 accounts")
    args = parser.parse_args()
    if args.quick:
        args.sizes = [2000]
    results = [asyncio.run(measure(args, n)) for n in args.sizes]
    print(json.dumps({"results": results, "machine": machine()}, indent=2))
    for result in results:
        for line in lines(result):
            print(line)


if __name__ == "__main__":
    main()
