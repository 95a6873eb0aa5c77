"""``vigil watch``: the change watch of an organization's ACCESS_REVIEW integration."""

from __future__ import annotations

from datetime import datetime

from rich.console import Console
from rich.table import Table

from services.integrations.models import Purpose
from services.store import Store
from services.watch.models import ChangeWatch
from services.watch.service import ChangeWatchService


async def show_watch(store: Store, organization_id: str, console: Console, *, enabled: bool) -> int:
    """Print the change watch of the organization's ACCESS_REVIEW integration; the exit code."""
    if await store.organizations.get(organization_id=organization_id) is None:
        console.print(f"[red]Organization {organization_id} does not exist.")
        return 1
    integration = await store.integrations.get_live_for_purpose(
        organization_id=organization_id, purpose=Purpose.ACCESS_REVIEW
    )
    if integration is None:
        console.print(f"[red]No ACCESS_REVIEW integration in organization {organization_id}.")
        return 1
    watch = await ChangeWatchService(states=store.watch, enabled=enabled).state(integration)
    assert watch is not None  # ACCESS_REVIEW
    console.print(_table(integration.id, watch))
    return 0


def _table(integration_id: str, w: ChangeWatch) -> Table:
    table = Table(title=f"Change watch of {integration_id}", show_header=False)
    table.add_column("", style="bold")
    table.add_column("")
    on = "[green]on[/green]" if w.enabled else f"[yellow]off[/yellow] ({w.reason})"
    table.add_row("watching", on)
    if not w.enabled and w.message:
        table.add_row("why", w.message)
    table.add_row("last poll", _when(w.last_polled_at))
    table.add_row("last event", _when(w.last_event_at))
    table.add_row("lag", "-" if w.lag_seconds is None else f"{w.lag_seconds:.1f} s")
    table.add_row("events seen", str(w.events_seen))
    table.add_row("refreshes", str(w.refreshes))
    ignored = ", ".join(f"{r.value} {n}" for r, n in sorted(w.ignored.items())) or "none"
    table.add_row("ignored", ignored)
    c = w.comparison
    if c is not None:
        verdict = "agrees" if not c.unexplained else f"[red]{len(c.unexplained)} unexplained[/red]"
        table.add_row(
            "last comparison",
            f"{_when(c.at)}: full sync {c.full_snapshot_id} vs {c.targeted_snapshot_id}: "
            f"{c.differences} difference(s), {verdict}",
        )
    return table


def _when(at: datetime | None) -> str:
    return at.isoformat(timespec="seconds") if at else "-"
