"""Syncing a simulator served in-process (ASGI transport: no sockets, no threads), for tests
that sync many small sites."""

from __future__ import annotations

import httpx

from services.store import Store
from services.sync.models import SnapshotAccount, SyncRun, SyncRunStatus
from simulator import Simulator, create_simulator_app
from testkit.static_connector import StaticConnectorFactory
from testkit.sync import connected_integration, make_runner, sync_now
from tests.sync.support import fast_policy

BASE = "http://sim"


def in_process(sim: Simulator, *, admin_key: bool = True) -> StaticConnectorFactory:
    """Connectors to the simulator's ASGI app: Basic auth as its admin operator on the site
    host, and its Admin API key (``admin_key=False``: none)."""
    creds = sim.credentials
    return StaticConnectorFactory(
        site_url=f"{BASE}/site/{sim.site.name}",
        email=creds.admin_token.email,
        api_token=creds.admin_token.token,
        api_url=f"{BASE}/api",
        admin_api_key=creds.admin_api_key if admin_key else None,
        admin_org_id=creds.org_id if admin_key else None,
        policy=fast_policy(),
        transport=httpx.ASGITransport(app=create_simulator_app(sim)),
    )


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
    runner = make_runner(store, in_process(sim, admin_key=admin_key), role_reads=role_reads)
    run = await sync_now(runner, integration)
    assert run is not None and run.status is SyncRunStatus.SUCCEEDED, run
    return run
