"""Another Vigil process using the same OAuth integration until told to stop (the token
refresh race tests): ``LOOPS`` concurrent loops of Confluence calls, refreshing as needed.

Usage: python -m testkit.refresh_loop INTEGRATION_ID LOOPS STOP_FILE
(settings from VIGIL_* environment). Prints ``ready``, then at the end ``ok N errors M
repeated R`` and one line per distinct error.

A call refused with 401 is tried once more before it counts as an error (``repeated``): the
race tests expire every token at once by moving the simulator's clock, so a token another
process stored a moment before the jump looks valid here by the wall clock yet is refused; the
client then invalidates it and retries with it, as it must. The second call refreshes. Wall
clock expiry never does this, so only a call that fails twice counts.
"""

from __future__ import annotations

import asyncio
import os
import sys

from api.container import Container
from api.settings import Settings
from services.confluence.errors import ConfluenceAuthError
from services.confluence.retry import RetryPolicy


async def main(integration_id: str, loops: int, stop_file: str) -> None:
    container = Container.build(Settings())
    clients = container.services.integrations.clients
    ok, repeated, errors = 0, 0, []
    try:
        integration = await container.store.integrations.get_by_id(integration_id=integration_id)
        assert integration is not None
        client = await clients.confluence_for(integration, RetryPolicy())
        print("ready", flush=True)

        async def call() -> None:
            nonlocal repeated
            try:
                await client.current_user()
            except ConfluenceAuthError:
                repeated += 1
                await client.current_user()

        async def loop() -> None:
            nonlocal ok
            while not os.path.exists(stop_file):
                try:
                    await call()
                    ok += 1
                except Exception as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(0.05)

        await asyncio.gather(*(loop() for _ in range(loops)))
    finally:
        await container.stop()
    print(f"ok {ok} errors {len(errors)} repeated {repeated}", flush=True)
    for error in sorted(set(errors)):
        print(error, flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
