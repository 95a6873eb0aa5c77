"""Syncing a simulator served in-process (ASGI transport: no sockets, no threads), for tests
that sync many small sites."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx

from services.atlassian.admin import AdminClient
from services.confluence.auth import BasicAuth
from services.confluence.client import ConfluenceClient
from services.confluence.retry import RetryObserver
from services.integrations.models import Integration
from services.store import Store
from services.sync.connector import Clients, Connector
from services.sync.models import SnapshotAccount, SyncRun, SyncRunStatus
from simulator import Simulator, create_simulator_app
from testkit.sync import connected_integration, make_runner, sync_now
from tests.sync.support import fast_policy

BASE = "http://sim"


class InProcess:
    """Connectors to the simulator's ASGI app: Basic auth as its admin operator on the site
    host, and its Admin API key (``admin_key=False``: none)."""

    def __init__(self, sim: Simulator, *, admin_key: bool = True) -> None:
        self.sim = sim
        self.app = create_simulator_app(sim)
        self.admin_key = admin_key

    def open(
        self, integration: Integration, observer: RetryObserver
    ) -> AbstractAsyncContextManager[Connector]:
        return self._open(observer)

    @asynccontextmanager
    async def _open(self, observer: RetryObserver) -> AsyncIterator[Connector]:
        creds, policy = self.sim.credentials, fast_policy().with_observer(observer)
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
            auth = BasicAuth(creds.admin_token.email, creds.admin_token.token)
            site = f"{BASE}/site/{self.sim.site.name}"
            confluence = ConfluenceClient(http, site, auth, policy)
            if not self.admin_key:
                yield Clients(confluence)
                return
            admin = AdminClient(http, creds.admin_api_key, policy, api_base=f"{BASE}/api")
            yield Clients(confluence, admin, creds.org_id)


async def synced(
    store: Store, sim: Simulator, *, admin_key: bool = True, role_reads: int = 200
) -> dict[str, SnapshotAccount]:
    """Vigil's snapshot of the site after one sync (with the Admin API key by default)."""
    run = await sync_run(store, sim, admin_key=admin_key, role_reads=role_reads)
    return {
        a.account_id: a
        async for a in store.snapshot_queries.iter_accounts(snapshot_id=run.snapshot_id)
    }


async def sync_run(
    store: Store, sim: Simulator, *, admin_key: bool = True, role_reads: int = 200
) -> SyncRun:
    """One successful sync of the site for a new organization."""
    org = await store.organizations.create(name="Acme")
    integration = await connected_integration(
        store, org.id, site_url=f"{BASE}/site/{sim.site.name}"
    )
    runner = make_runner(store, InProcess(sim, admin_key=admin_key), role_reads=role_reads)
    run = await sync_now(runner, integration)
    assert run is not None and run.status is SyncRunStatus.SUCCEEDED, run
    return run
