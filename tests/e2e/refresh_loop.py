"""Another Vigil process using the same OAuth integration until told to stop (the token
refresh race tests): ``LOOPS`` concurrent loops of Confluence calls, refreshing as needed.

Usage: python -m tests.e2e.refresh_loop INTEGRATION_ID LOOPS STOP_FILE
(settings from VIGIL_* environment). Prints ``ready``, then at the end ``ok N errors M`` and
one line per distinct error.
"""

from __future__ import annotations

import asyncio
import os
import sys

from api.container import Container
from api.settings import Settings
from services.confluence.retry import RetryPolicy


async def main(integration_id: str, loops: int, stop_file: str) -> None:
    container = Container.build(Settings())
    ok, errors = 0, []
    try:
        integration = await container.store.integrations.get_by_id(integration_id=integration_id)
        assert integration is not None
        client = await container.integrations.clients.confluence_for(integration, RetryPolicy())
        print("ready", flush=True)

        async def loop() -> None:
            nonlocal ok
            while not os.path.exists(stop_file):
                try:
                    await client.current_user()
                    ok += 1
                except Exception as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(0.05)

        await asyncio.gather(*(loop() for _ in range(loops)))
    finally:
        await container.stop()
    print(f"ok {ok} errors {len(errors)}", flush=True)
    for error in sorted(set(errors)):
        print(error, flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
