"""What a run skips or refuses (confluence-api.md §5.3, §5.4): a v1 group with a null id is
skipped with a warning in the run; a 404 from users-bulk ends the run saying the connected
account cannot view users, and what to do."""

from __future__ import annotations

import json

from services.confluence import paths
from services.sync.models import SyncRunStatus
from simulator import RunningSimulator
from tests.sync.support import sync_once

GROUPS_ROUTE = "GET /wiki/rest/api/group"
USERS_BULK_ROUTE = "POST /wiki/api/v2/users-bulk"


async def test_a_group_without_id_is_skipped_with_a_warning(small_sim: RunningSimulator) -> None:
    sim = small_sim.sim
    real = next(iter(sim.site.groups.values()))
    body = {
        "results": [
            {"type": "group", "id": None, "name": "ghost-group"},
            {"type": "group", "id": real.group_id, "name": real.name},
        ],
        "start": 0,
        "limit": 200,
        "size": 2,
        "_links": {"base": f"{small_sim.site_url()}/wiki", "context": "/wiki"},
    }
    sim.faults.script(
        "status",
        route=GROUPS_ROUTE,
        status=200,
        body=json.dumps(body),
        content_type="application/json",
    )
    store, run = await sync_once(small_sim)
    assert run.status is SyncRunStatus.SUCCEEDED, run.error
    assert len(run.warnings) == 1 and "'ghost-group'" in run.warnings[0]
    assert "skipped" in run.warnings[0]
    stored = await store.sync_runs.get(run_id=run.id)
    assert stored is not None and stored.warnings == run.warnings
    assert run.counts is not None and run.counts.groups == 1


async def test_users_bulk_404_says_the_account_cannot_view_users(
    small_sim: RunningSimulator,
) -> None:
    small_sim.sim.faults.script(
        "status",
        route=USERS_BULK_ROUTE,
        status=404,
        body=json.dumps({"errors": [{"status": 404, "code": "NOT_FOUND", "title": "Not Found"}]}),
        content_type="application/json",
    )
    _, run = await sync_once(small_sim)
    assert run.status is SyncRunStatus.FAILED
    assert run.error is not None
    assert "the connected account cannot view users" in run.error
    assert "'Can use'" in run.error and "internal error" not in run.error
    assert run.error_endpoint == paths.USERS_BULK
