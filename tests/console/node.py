"""Running the console's Node.js scripts from the tests."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path

CONSOLE = Path(__file__).resolve().parents[2] / "console"


async def run_node(
    args: Sequence[str], env: Mapping[str, str], *, timeout: float, what: str
) -> tuple[int | None, str]:
    """Run ``node`` with ``args`` in the console's folder: its exit code and its output (stdout
    and stderr together). A run past ``timeout`` seconds is killed and fails as ``what``."""
    proc = await asyncio.create_subprocess_exec(
        "node",
        *args,
        cwd=CONSOLE,
        env=dict(env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(proc.communicate(), timeout=timeout)
    except TimeoutError:
        proc.kill()
        output, _ = await proc.communicate()
        raise AssertionError(f"{what} did not end:\n{output.decode()}") from None
    return proc.returncode, output.decode()
