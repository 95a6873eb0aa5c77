"""A second Vigil process for the cross-process refresh test: N concurrent Confluence calls.

Usage: python -m tests.e2e.refresh_process INTEGRATION_ID CALLS GO_FILE
(settings from VIGIL_* environment). Waits until GO_FILE exists so both processes start
their calls together, then prints one line per call: ``ok <display name>`` or ``error``.
"""

from __future__ import annotations

import asyncio
import os
import sys

from api.container import Container
from api.settings import Settings
from services.confluence.retry import RetryPolicy


async def main(integration_id: str, calls: int, go_file: str) -> None:
    container = Container.build(Settings())
    clients = container.services.integrations.clients
    try:
        integration = await container.store.integrations.get_by_id(integration_id=integration_id)
        assert integration is not None
        client = await clients.confluence_for(integration, RetryPolicy())
        print("ready", flush=True)
        while not os.path.exists(go_file):
            await asyncio.sleep(0.005)
        results = await asyncio.gather(
            *(client.current_user() for _ in range(calls)), return_exceptions=True
        )
        for result in results:
            print("error" if isinstance(result, BaseException) else f"ok {result.display_name}")
    finally:
        await container.stop()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
