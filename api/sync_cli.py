"""``vigil sync``: run one sync of an organization's integration here, with a progress bar."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Column

from api.container import Container
from services.events import Event, topic_for
from services.integrations.models import IntegrationStatus, Purpose
from services.sync.events import run_from_event
from services.sync.models import SyncRun, SyncRunStatus, SyncTrigger
from services.sync.progress import SYNC_CHANNEL

_FIELDS = " · ".join(
    f"{{task.fields[{key}]}} {label}"
    for key, label in (
        ("requests", "requests"),
        ("items", "items"),
        ("retries", "retries"),
        ("waits", "waits"),
    )
)


async def run_cli_sync(
    container: Container, organization_id: str, purpose: Purpose, console: Console
) -> int:
    """Sync the organization's ``purpose`` integration now; the process exit code."""
    if await container.store.organizations.get(organization_id=organization_id) is None:
        console.print(f"[red]Organization {organization_id} does not exist.")
        return 1
    integration = await container.store.integrations.get_live_for_purpose(
        organization_id=organization_id, purpose=purpose
    )
    if integration is None:
        console.print(f"[red]No {purpose.value} integration in organization {organization_id}.")
        return 1
    if integration.status is not IntegrationStatus.CONNECTED:
        console.print(f"[red]The integration is {integration.status.value}, not CONNECTED.")
        return 1
    events = container.bus.subscribe(topic_for(organization_id, SYNC_CHANNEL))
    with _progress(console) as progress:
        bar = progress.add_task(f"{purpose.value} sync", total=None, **_fields(None))
        async with _updates(events, integration.id, progress, bar):
            await container.sync.queue.submit(integration, SyncTrigger.MANUAL)
            run = await container.sync.runner.execute(integration.id)
        progress.update(bar, total=1, completed=1)
    return _report(console, run)


@contextlib.asynccontextmanager
async def _updates(
    events: AsyncIterator[Event], integration_id: str, progress: Progress, bar: TaskID
) -> AsyncIterator[None]:
    async def follow() -> None:
        async for event in events:
            if event.get("integration_id") == integration_id:
                run = run_from_event(event)
                progress.update(bar, description=run.progress.phase, **_fields(run))

    follower = asyncio.create_task(follow())
    await asyncio.sleep(0)  # let the follower subscribe before the run publishes
    try:
        yield
    finally:
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower


def _progress(console: Console) -> Progress:
    # The elapsed time comes first: on a narrow terminal rich crops the last column, and the
    # counters (which grow) are the ones that may lose their tail, never the time.
    return Progress(
        SpinnerColumn(),
        TimeElapsedColumn(table_column=Column(no_wrap=True, min_width=7)),
        TextColumn("[bold]{task.description:<11}", table_column=Column(no_wrap=True)),
        BarColumn(bar_width=10),
        TextColumn(_FIELDS),  # wraps onto a second line when the terminal is narrow
        console=console,
        transient=False,
    )


def _fields(run: SyncRun | None) -> dict[str, Any]:
    p = run.progress if run else None
    return {
        "requests": p.requests_made if p else 0,
        "items": p.items_fetched if p else 0,
        "retries": p.retries if p else 0,
        "waits": p.rate_limit_waits if p else 0,
    }


def _report(console: Console, run: SyncRun | None) -> int:
    if run is None:
        console.print("[yellow]Another worker is running a sync of this integration right now.")
        return 1
    if run.status is not SyncRunStatus.SUCCEEDED:
        where = f" ({run.error_endpoint})" if run.error_endpoint else ""
        console.print(f"[red]Sync {run.id} failed{where}: {run.error}")
        return 1
    counts = run.counts
    summary = (
        f"{counts.accounts} accounts, {counts.groups} groups, {counts.memberships} memberships, "
        f"{counts.pages} pages"
        if counts
        else "no counts"
    )
    console.print(f"[green]Sync {run.id} succeeded[/green]: snapshot {run.snapshot_id} — {summary}")
    return 0
