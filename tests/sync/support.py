"""Helpers for sync tests: injected sleeps, connectors to the simulator, a scheduler
(``testkit.sync`` has the connected integration, the queue, the runner and ``sync_now``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from services.confluence.retry import RetryPolicy
from services.scheduler import Scheduler
from services.store import Store
from services.sync.models import SyncRun
from simulator import RunningSimulator
from testkit.live import open_store
from testkit.static_connector import StaticConnectorFactory
from testkit.sync import connected_integration, make_queue, make_runner, sync_now


@dataclass
class RecordingSleep:
    """An injected sleep that records the requested waits and only yields to the loop."""

    waits: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(0)


def fast_policy(max_attempts: int = 5) -> RetryPolicy:
    """The production policy with the sleep injected (tests never wait)."""
    return RetryPolicy(max_attempts=max_attempts, sleep=RecordingSleep())


def static_connectors(
    running: RunningSimulator,
    *,
    admin_key: bool = True,
    policy: RetryPolicy | None = None,
    api_token: str | None = None,
    event_hooks: Mapping[str, list[Callable[[Any], Awaitable[None]]]] | None = None,
) -> StaticConnectorFactory:
    """Basic auth as the simulator's admin operator, plus its Admin API key (``event_hooks``:
    httpx's, on each connector's HTTP client)."""
    creds = running.sim.credentials
    return StaticConnectorFactory(
        site_url=running.site_url(),
        email=creds.admin_token.email,
        api_token=api_token or creds.admin_token.token,
        api_url=running.api_url,
        admin_api_key=creds.admin_api_key if admin_key else None,
        admin_org_id=creds.org_id if admin_key else None,
        policy=policy or fast_policy(),
        event_hooks=event_hooks,
    )


async def sync_once(running: RunningSimulator) -> tuple[Store, SyncRun]:
    """One sync, on a fresh mock store, of a new organization's integration to ``running``
    (static connectors: retries never wait); the store and the finished run."""
    store = open_store("mock", None)
    await store.ensure_indexes()
    org = await store.organizations.create(name="Acme")
    integration = await connected_integration(store, org.id)
    run = await sync_now(make_runner(store, static_connectors(running)), integration)
    assert run is not None
    return store, run


def make_scheduler(store: Store, runner: Any, **options: Any) -> Scheduler:
    """A scheduler over ``store``'s repositories (``runner`` may be a test double)."""
    return Scheduler(
        runner,
        make_queue(store),
        integrations=store.integrations,
        sync_runs=store.sync_runs,
        sync_leases=store.sync_leases,
        **options,
    )
