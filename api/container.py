"""The composition root: builds the store, bus and services from settings."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from api.metrics import Metrics
from api.ratelimit import RateLimiter
from api.settings import Settings
from resolvers.context import AppServices
from services.access import AccessService
from services.events import InMemoryEventBus
from services.store import Store

log = logging.getLogger(__name__)


@dataclass
class Container:
    """Everything a process needs, built once and handed to the app and the CLI."""

    settings: Settings
    store: Store
    bus: InMemoryEventBus
    access: AccessService
    metrics: Metrics
    rate_limiter: RateLimiter
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    def build(cls, settings: Settings, store: Store | None = None) -> Container:
        """Wire the services for ``settings`` (``store`` injected by tests)."""
        store = store or Store.open(settings.mongodb_url_value(), settings.mongodb_db)
        bus = InMemoryEventBus()
        return cls(
            settings=settings,
            store=store,
            bus=bus,
            access=AccessService(store, bus),
            metrics=Metrics(subscriber_count=bus.subscriber_count),
            rate_limiter=RateLimiter(settings.rate_limit_per_minute),
        )

    def services(self) -> AppServices:
        """The services exposed to resolvers."""
        return AppServices(access=self.access, bus=self.bus)

    async def start(self) -> None:
        """Prepare the store (indexes) and start background tasks."""
        await self.store.ensure_indexes()

    async def stop(self) -> None:
        """Stop background tasks and close the store."""
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
            except Exception:
                log.exception("background task failed while stopping")
        self.tasks.clear()
        self.store.close()
