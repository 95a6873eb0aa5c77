"""Prerequisites and data health shared by the access checks (SPEC §5, §6).

NOT_MONITORED until Confluence is a critical system with a connected ACCESS_REVIEW
integration and a first snapshot; ERROR (still computed over the last good data, with its
age) when the integration needs re-authorisation or the snapshot is older than three sync
intervals.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from services.checks.access.data import AccessData
from services.checks.base import Outcome
from services.checks.health import concluded, snapshot_problem
from services.checks.models import CheckItem, CheckStatus
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
    return snapshot_problem(
        data.integration,
        data.snapshot_at,
        data.now,
        data.stale_after_intervals,
        label="access-review",
    )


def conclude(
    data: AccessData, items: Iterable[CheckItem], *, passing: str | None = None
) -> Outcome:
    """PASSING / FAILING over ``items`` — or ERROR (items kept) when the data is unhealthy."""
    return concluded(
        items,
        error=data_error(data),
        passing=passing,
        population=data.population,
        snapshot_id=data.snapshot_id,
        data_as_of=data.snapshot_at,
    )


def when(at: datetime) -> str:
    """A timestamp as item reasons show it."""
    return f"{at:%Y-%m-%d %H:%M} UTC"
