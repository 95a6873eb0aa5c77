"""When checks run: on request after a change (coalesced per organization) and on a timer.

``request(org, sources)`` returns at once; one task per organization evaluates, and
requests that arrive while it runs are merged into one more pass, so a burst of API changes
costs two evaluations, not one per change. ``run_periodic`` evaluates every organization on
an interval, so time-based transitions (a grace period running out, a review falling due,
data going stale) show up with no other change.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection

from services.checks.engine import CheckEngine
from services.clock import Sleep
from services.tasks import cancel_and_wait

log = logging.getLogger(__name__)

ALL = "*"
Organizations = Callable[[], Awaitable[list[str]]]


class Reevaluator:
    """Runs the engine for organizations whose data changed, in the background."""

    def __init__(self, engine: CheckEngine) -> None:
        self.engine = engine
        self._pending: dict[str, set[str]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def request(self, organization_id: str, sources: Collection[str] | None = None) -> None:
        """Evaluate ``sources`` (all when None) of the organization soon."""
        wanted = self._pending.setdefault(organization_id, set())
        wanted.update(sources if sources is not None else (ALL,))
        if organization_id not in self._tasks:
            task = asyncio.create_task(self._drain(organization_id))
            self._tasks[organization_id] = task

    async def settle(self) -> None:
        """Wait until every requested evaluation has run (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    async def stop(self) -> None:
        """Cancel pending evaluations."""
        await cancel_and_wait(self._tasks.values())

    async def run_periodic(
        self, organizations: Organizations, interval: float, sleep: Sleep = asyncio.sleep
    ) -> None:
        """Evaluate every organization now and then every ``interval`` seconds, forever."""
        while True:
            try:
                for organization_id in await organizations():
                    await self.engine.evaluate(organization_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("periodic check evaluation failed; retrying next time")
            await sleep(interval)

    async def _drain(self, organization_id: str) -> None:
        try:
            while organization_id in self._pending:
                wanted = self._pending.pop(organization_id)
                sources = None if ALL in wanted else wanted
                try:
                    await self.engine.evaluate(organization_id, sources)
                except Exception:
                    log.exception("evaluating the checks of %s failed", organization_id)
        finally:
            self._tasks.pop(organization_id, None)
