"""How an ACCESS_REVIEW run schedules its work (issue 15): the Admin API directory is fetched
alongside groups and members, never more requests in flight than the run's concurrency, and
accounts are assembled from ONE sorted read of the memberships (never a read per batch; with
an Admin API key one more judges the groups first)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from services.confluence.client import MAX_BULK_IDS
from services.store import Store
from services.sync.models import SyncRunStatus
from simulator import RunningSimulator
from testkit.static_connector import StaticConnectorFactory
from testkit.sync import connected_integration, make_runner, sync_now
from tests.conftest import served_site
from tests.sync.support import static_connectors

plan_sim = served_site(users=700, groups=30, pages=10, seed=8)


@dataclass
class Tracer:
    """Records the order of the requests a sync sends and the most in flight at once."""

    order: list[str] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0

    def connectors(self, running: RunningSimulator) -> StaticConnectorFactory:
        """Connectors to the simulator whose HTTP client reports to this tracer."""
        return static_connectors(
            running, event_hooks={"request": [self._sent], "response": [self._received]}
        )

    async def _sent(self, request: httpx.Request) -> None:
        self.order.append(request.url.path)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)

    async def _received(self, response: httpx.Response) -> None:
        self.in_flight -= 1


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
        tracer = Tracer()
        org = await store.organizations.create(name="Acme")
        integration = await connected_integration(store, org.id)
        runner = make_runner(store, tracer.connectors(plan_sim), concurrency=concurrency)
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
