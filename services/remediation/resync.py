"""After verified changes: a sync, so the access checks see what Atlassian now says (ADR 010).

``SyncService.enqueue`` returns the active run when one exists. A run that was already
RUNNING may have read the groups before the change, so one more run is queued when it ends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import KW_ONLY, dataclass, field

from services.integrations.models import Integration
from services.sync.models import SyncRun, SyncRunStatus, SyncTrigger
from services.tasks import cancel_and_wait

log = logging.getLogger(__name__)

Enqueue = Callable[[Integration, SyncTrigger], Awaitable[SyncRun]]
GetRun = Callable[[str], Awaitable[SyncRun | None]]
_FINISHED = (SyncRunStatus.SUCCEEDED, SyncRunStatus.FAILED)


@dataclass(eq=False, repr=False)
class Resync:
    """``on_verified`` of the executor: queue a sync that starts after the change."""

    enqueue: Enqueue
    get_run: GetRun
    _: KW_ONLY
    poll_seconds: float = 1.0
    give_up_after: float = 1800.0
    follow_ups: set[asyncio.Task[None]] = field(init=False, default_factory=set)

    async def __call__(self, integration: Integration) -> None:
        """Queue a sync; if one is already running, queue another once it has finished."""
        run = await self.enqueue(integration, SyncTrigger.MANUAL)
        if run.status is SyncRunStatus.RUNNING:
            task = asyncio.create_task(self._after(run.id, integration))
            self.follow_ups.add(task)
            task.add_done_callback(self.follow_ups.discard)

    async def _after(self, run_id: str, integration: Integration) -> None:
        try:
            async with asyncio.timeout(self.give_up_after):
                while True:
                    run = await self.get_run(run_id)
                    if run is None or run.status in _FINISHED:
                        break
                    await asyncio.sleep(self.poll_seconds)
            await self.enqueue(integration, SyncTrigger.MANUAL)
        except Exception:
            log.exception("could not queue the sync that follows remediation")

    async def stop(self) -> None:
        """Cancel waiting follow-ups."""
        await cancel_and_wait(self.follow_ups)
