"""Prerequisites and data health shared by the access checks (SPEC §5, §6).

NOT_MONITORED until Confluence is a critical system with a connected ACCESS_REVIEW
integration and a first snapshot; ERROR (still computed over the last good data, with its
age) when the integration needs re-authorisation or the snapshot is older than three sync
intervals.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from services.checks.access.data import AccessData
from services.checks.base import CheckItem, CheckStatus, Outcome
from services.integrations.models import IntegrationStatus

ADD_SYSTEM = "add Confluence as a critical system"
CONNECT = "connect Confluence for access review (ACCESS_REVIEW integration)"
FIRST_SYNC = "waiting for the first access-review sync of Confluence to finish"


def not_monitored(data: AccessData, *, needs_snapshot: bool = True) -> Outcome | None:
    """The NOT_MONITORED outcome when a prerequisite is missing, else None."""
    reason = None
    integration = data.integration
    if data.system is None:
        reason = ADD_SYSTEM
    elif integration is None or integration.status is IntegrationStatus.DISCONNECTED:
        reason = CONNECT
    elif needs_snapshot and integration.current_snapshot_id is None:
        reason = FIRST_SYNC
    if reason is None:
        return None
    return Outcome(CheckStatus.NOT_MONITORED, reason, population=data.population)


def data_error(data: AccessData) -> str | None:
    """Why the current snapshot cannot be trusted (needs re-auth, in error, stale), or None."""
    integration, taken = data.integration, data.snapshot_at
    if integration is None or taken is None:
        return None
    age = describe_age(data.now - taken)
    shown = f"showing the last good data, {age} old (synced {taken:%Y-%m-%d %H:%M} UTC)"
    if integration.status is IntegrationStatus.NEEDS_REAUTH:
        return (
            f"reconnect Confluence: the access-review integration needs re-authorisation; {shown}"
        )
    if integration.status is IntegrationStatus.ERROR:
        detail = integration.status_message or "the integration is in error"
        return f"{detail}; {shown}"
    interval = timedelta(minutes=integration.sync_interval_minutes)
    if data.now - taken > interval * data.stale_after_intervals:
        return (
            f"the access-review data is stale: no successful sync for {age} "
            f"(more than {data.stale_after_intervals} sync intervals of "
            f"{describe_age(interval)}); {shown}"
        )
    return None


def conclude(
    data: AccessData, items: Iterable[CheckItem], *, passing: str | None = None
) -> Outcome:
    """PASSING / FAILING over ``items`` — or ERROR (items kept) when the data is unhealthy."""
    failing = tuple(sorted(items, key=lambda i: i.resource_id))
    error = data_error(data)
    reason: str | None
    if error is not None:
        status, reason = CheckStatus.ERROR, error
    elif failing:
        status, reason = CheckStatus.FAILING, f"{len(failing)} failing item(s)"
    else:
        status, reason = CheckStatus.PASSING, passing
    return Outcome(
        status,
        reason,
        failing,
        data.population,
        snapshot_id=data.snapshot_id,
        data_as_of=data.snapshot_at,
    )


def describe_age(delta: timedelta) -> str:
    """A short human age: ``3 minutes``, ``26 hours``, ``4 days``."""
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return "less than a minute"
    if minutes < 120:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours = minutes // 60
    if hours < 72:
        return f"{hours} hours"
    return f"{hours // 24} days"


def when(at: datetime) -> str:
    """A timestamp as item reasons show it."""
    return f"{at:%Y-%m-%d %H:%M} UTC"
