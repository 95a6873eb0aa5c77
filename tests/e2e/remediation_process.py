"""A Vigil process that carries out an organization's approved remediation actions, for the
kill -9 test (``tests/e2e/test_remediation_kill.py``).

Usage: python -m tests.e2e.remediation_process ORGANIZATION_ID (settings from VIGIL_*).
Prints ``ready`` once built, then runs the executor until no action is claimable and prints
``done <count>``. The test kills it with SIGKILL at random moments.
"""

from __future__ import annotations

import asyncio
import sys

from api.container import Container
from api.settings import Settings


async def main(organization_id: str) -> None:
    container = Container.build(Settings())
    try:
        print("ready", flush=True)
        finished = await container.remediation.executor.run(organization_id)
        print(f"done {len(finished)}", flush=True)
    finally:
        await container.stop()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
