"""A cold start as it happens: a new Vigil process evaluates every access check of one
organization over a store others wrote, and reports its own figures (``bench/scale.py`` runs
it; it can also be run by hand against any store).

Configured from the environment as ``vigil serve`` is (``VIGIL_MONGODB_URL``,
``VIGIL_MONGODB_DB``, ``VIGIL_SECRET_KEY``, ``VIGIL_EVIDENCE_HMAC_KEY``, ``VIGIL_GC_THRESHOLDS``:
never on the command line, where ``ps`` shows them); it builds the services with
``Container.build``, sets the collector as ``vigil serve`` does, evaluates once and prints one
JSON line: the evaluation's wall time and CPU, the process's resident memory before it and
its peak (imports and all: what the machine has to give a new process).

    VIGIL_MONGODB_URL=... VIGIL_MONGODB_DB=... VIGIL_SECRET_KEY=... VIGIL_EVIDENCE_HMAC_KEY=... \\
        .venv/bin/python bench/cold_process.py ORG_ID
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.container import Container
from api.runtime import prepare_process
from api.settings import Settings
from services.checks.access.data import ACCESS
from services.checks.registry import CHECKS


def resident_bytes(field: str = "VmRSS") -> int:
    """The process's resident memory now (``VmRSS``) or at its peak (``VmHWM``), in bytes.
    Not ``getrusage``'s ``ru_maxrss``: Linux carries that across ``exec`` from the process
    that started this one, so it would report the bench's own peak."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


async def evaluate(organization_id: str) -> dict[str, float | int]:
    settings = Settings(run_worker=False)
    container = Container.build(settings)
    prepare_process(settings.collector_thresholds)
    before = resident_bytes()
    started, cpu = time.perf_counter(), time.process_time()
    evaluated = await container.engine.evaluate(organization_id, (ACCESS,))
    figures: dict[str, float | int] = {
        "cold_s": time.perf_counter() - started,
        "process_cpu_s": time.process_time() - cpu,
        "rss_before_bytes": before,
        "peak_rss_bytes": resident_bytes("VmHWM"),
    }
    await container.http.aclose()
    if len(evaluated) != sum(1 for c in CHECKS if c.source == ACCESS):
        raise SystemExit(f"evaluated {len(evaluated)} access checks, not all of them")
    return figures


def main() -> None:
    print(json.dumps(asyncio.run(evaluate(sys.argv[1]))), flush=True)


if __name__ == "__main__":
    main()
