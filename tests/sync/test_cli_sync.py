"""`vigil sync` through the composition root: it submits a run to the queue and runs it
here, or runs the run already queued (from an API process without a worker)."""

from __future__ import annotations

import io

from rich.console import Console

from api.container import Container
from api.settings import Settings
from api.sync_cli import run_cli_sync
from services.crypto import generate_key
from services.events import InMemoryEventBus
from services.integrations.models import Purpose
from services.sync.models import SyncRunStatus, SyncTrigger
from simulator import RunningSimulator
from testkit.live import open_store
from testkit.sync import connected_integration
from tests.sync.support import static_connectors


async def test_vigil_sync_runs_a_new_run_or_the_queued_one(small_sim: RunningSimulator) -> None:
    store = open_store("mock", None)
    settings = Settings(
        env="development",
        secret_key=generate_key(),
        evidence_hmac_key=generate_key(),
        run_worker=False,
    )
    container = Container.build(
        settings, store, connectors=static_connectors(small_sim), bus=InMemoryEventBus()
    )
    await store.ensure_indexes()
    try:
        org = await store.organizations.create(name="Acme")
        integration = await connected_integration(store, org.id)
        out = io.StringIO()
        console = Console(file=out, width=120, color_system=None)

        assert await run_cli_sync(container, org.id, Purpose.ACCESS_REVIEW, console) == 0
        queued = await container.sync.queue.submit(integration, SyncTrigger.INITIAL)
        assert await run_cli_sync(container, org.id, Purpose.ACCESS_REVIEW, console) == 0

        runs, total = await store.sync_runs.list_by_integration(
            integration_id=integration.id, limit=5
        )
        assert total == 2 and runs[0].id == queued.id  # the queued run, not a third one
        assert [(r.trigger, r.status) for r in runs] == [
            (SyncTrigger.INITIAL, SyncRunStatus.SUCCEEDED),
            (SyncTrigger.MANUAL, SyncRunStatus.SUCCEEDED),
        ]
        assert out.getvalue().count("succeeded") == 2
    finally:
        await container.reevaluator.settle()
        await container.http.aclose()
