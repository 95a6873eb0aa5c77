"""How an ACCESS_REVIEW run schedules its work (issue 15): the Admin API directory is fetched
alongside groups and members, never more requests in flight than the run's concurrency, and
accounts are assembled from ONE sorted read of the memberships (never a read per batch; with
an Admin API key one more judges the groups first)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from services.atlassian.admin import AdminClient
from services.confluence.auth import BasicAuth
from services.confluence.client import MAX_BULK_IDS, ConfluenceClient
from services.confluence.retry import RetryObserver
from services.integrations.models import Integration
from services.store import Store
from services.sync.connector import Clients, Connector
from services.sync.models import SyncRunStatus
from simulator import RunningSimulator, Simulator, generate_site, start_simulator
from testkit.sync import connected_integration, make_runner, sync_now
from tests.sync.support import fast_policy


@pytest.fixture(scope="module")
def plan_sim() -> Iterator[RunningSimulator]:
    sim = Simulator(generate_site(users=700, groups=30, pages=10, seed=8))
    with start_simulator(sim) as running:
        yield running


@dataclass
class Tracer:
    """Connectors whose HTTP client records the order of requests and the most in flight."""

    running: RunningSimulator
    order: list[str] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0

    def open(
        self, integration: Integration, observer: RetryObserver
    ) -> AbstractAsyncContextManager[Connector]:
        return self._open(observer)

    async def _sent(self, request: httpx.Request) -> None:
        self.order.append(request.url.path)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)

    async def _received(self, response: httpx.Response) -> None:
        self.in_flight -= 1

    @asynccontextmanager
    async def _open(self, observer: RetryObserver) -> AsyncIterator[Connector]:
        creds, policy = self.running.sim.credentials, fast_policy().with_observer(observer)
        hooks: dict[str, list[Any]] = {"request": [self._sent], "response": [self._received]}
        async with httpx.AsyncClient(timeout=30, event_hooks=hooks) as http:
            auth = BasicAuth(creds.admin_token.email, creds.admin_token.token)
            confluence = ConfluenceClient(http, self.running.site_url(), auth, policy)
            admin = AdminClient(http, creds.admin_api_key, policy, api_base=self.running.api_url)
            yield Clients(confluence, admin, creds.org_id)


class CountingFinds:
    """A collection proxy that counts ``find`` calls."""

    def __init__(self, collection: Any) -> None:
        self._collection = collection
        self.finds = 0

    def find(self, *args: Any, **kwargs: Any) -> Any:
        self.finds += 1
        return self._collection.find(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._collection, name)


@pytest.mark.parametrize("concurrency", [2, 8])
async def test_directory_overlaps_members_within_the_concurrency_bound(
    store: Store, plan_sim: RunningSimulator, concurrency: int
) -> None:
    sim = plan_sim.sim
    sim.reset()
    sim.config.admin_max_limit = 20  # a directory chain of dozens of pages
    memberships = CountingFinds(store.snapshot_data._memberships)
    store.snapshot_data._memberships = memberships
    try:
        tracer = Tracer(plan_sim)
        org = await store.organizations.create(name="Acme")
        integration = await connected_integration(store, org.id)
        runner = make_runner(store, tracer, concurrency=concurrency)
        run = await sync_now(runner, integration)
    finally:
        sim.config.admin_max_limit = 100
    assert run is not None and run.status is SyncRunStatus.SUCCEEDED, run

    directory = [i for i, p in enumerate(tracer.order) if p.endswith("/users/search")]
    members = [i for i, p in enumerate(tracer.order) if p.endswith("/membersByGroupId")]
    bulk = [i for i, p in enumerate(tracer.order) if p.endswith("/users-bulk")]
    assert len(directory) > 10 and len(members) >= 30
    # The directory starts before the members are done (alongside, not after) ...
    assert directory[0] < members[-1]
    # ... the accounts are assembled once both are complete ...
    assert max(directory[-1], members[-1]) < bulk[0]
    # ... and the run never has more requests in flight than its concurrency.
    assert tracer.most_in_flight <= concurrency
    assert len(bulk) == -(-len(sim.site.member_account_ids()) // MAX_BULK_IDS) >= 3
    # Two sorted reads of the memberships whatever the batches: one judges which groups carry
    # access and admin roles (Admin API key), one assembles the accounts.
    assert memberships.finds == 2
