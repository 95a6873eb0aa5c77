"""The background worker process: owns the periodic jobs (scheduled syncs, re-evaluation)."""

from __future__ import annotations

import asyncio
import logging
import signal

from api.container import Container
from api.logging import configure_logging
from api.runtime import prepare_process
from api.settings import Settings

log = logging.getLogger(__name__)


async def run_worker(settings: Settings) -> None:
    """Start the container's background jobs and run until SIGINT/SIGTERM."""
    configure_logging(settings.log_level, json_lines=settings.json_logs)
    container = Container.build(settings)
    await container.start()
    prepare_process(settings.collector_thresholds)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("worker started", extra={"jobs": len(container.tasks)})
    try:
        await stop.wait()
    finally:
        await container.stop()
        log.info("worker stopped")
