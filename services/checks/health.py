"""Data health shared by every check: can the snapshot behind a result be trusted?

A result over unhealthy data is ERROR — still computed over the last good snapshot (its
items kept) and saying why and how old that data is (SPEC §6).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from services.checks.base import Outcome, Population
from services.checks.models import CheckItem, CheckStatus
from services.integrations.models import Integration, IntegrationStatus


def snapshot_problem(
    integration: Integration | None,
    taken: datetime | None,
    now: datetime,
    stale_after_intervals: int,
    *,
    label: str,
) -> str | None:
    """Why the ``label`` (e.g. ``policy``) snapshot cannot be trusted, or None."""
    if integration is None or taken is None:
        return None
    age = describe_age(now - taken)
    shown = f"showing the last good data, {age} old (synced {taken:%Y-%m-%d %H:%M} UTC)"
    if integration.status is IntegrationStatus.NEEDS_REAUTH:
        return f"reconnect Confluence: the {label} integration needs re-authorisation; {shown}"
    if integration.status is IntegrationStatus.ERROR:
        detail = integration.status_message or f"the {label} integration is in error"
        return f"{detail}; {shown}"
    interval = timedelta(minutes=integration.sync_interval_minutes)
    if now - taken > interval * stale_after_intervals:
        return (
            f"the {label} data is stale: no successful sync for {age} "
            f"(more than {stale_after_intervals} sync intervals of "
            f"{describe_age(interval)}); {shown}"
        )
    return None


def by_resource(items: Iterable[CheckItem]) -> tuple[CheckItem, ...]:
    """``items`` sorted by resource id, the order of an outcome's items."""
    return tuple(sorted(items, key=lambda i: i.resource_id))


def concluded_sorted(
    failing: tuple[CheckItem, ...],
    *,
    error: str | None,
    passing: str | None,
    population: Population,
    snapshot_id: str | None,
    data_as_of: datetime | None,
) -> Outcome:
    """PASSING / FAILING over ``failing`` (sorted by resource id: ``by_resource``) — or ERROR
    (items kept) when ``error`` is set."""
    reason: str | None
    if error is not None:
        status, reason = CheckStatus.ERROR, error
    elif failing:
        status, reason = CheckStatus.FAILING, f"{len(failing)} failing item(s)"
    else:
        status, reason = CheckStatus.PASSING, passing
    return Outcome(
        status, reason, failing, population, snapshot_id=snapshot_id, data_as_of=data_as_of
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
