"""Prerequisites and data health shared by the access checks (SPEC §5, §6).

NOT_MONITORED until Confluence is a critical system with a connected ACCESS_REVIEW
integration and a first snapshot; ERROR (still computed over the last good data, with its
age) when the integration needs re-authorisation or the snapshot is older than three sync
intervals.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime

from services.checks.access.data import GROUPS_ONLY_NOTE, AccessData
from services.checks.base import Outcome
from services.checks.health import by_resource, concluded_sorted, snapshot_problem
from services.checks.models import CheckItem, CheckStatus
from services.integrations.models import IntegrationStatus
from services.sync.models import Grant, GrantKind, GrantSource, SnapshotAccount

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
    """PASSING / FAILING over ``items`` — or ERROR (items kept) when the data is unhealthy;
    with the note ``GROUPS_ONLY_NOTE`` when access was measured through groups only."""
    return conclude_sorted(data, by_resource(items), passing=passing)


def conclude_sorted(
    data: AccessData, items: tuple[CheckItem, ...], *, passing: str | None = None
) -> Outcome:
    """As ``conclude``, over items already sorted by resource id."""
    outcome = concluded_sorted(
        items,
        error=data_error(data),
        passing=passing,
        population=data.population,
        snapshot_id=data.snapshot_id,
        data_as_of=data.snapshot_at,
    )
    return replace(outcome, note=GROUPS_ONLY_NOTE) if data.groups_only else outcome


def access_of(account: SnapshotAccount) -> str:
    """How the account holds Confluence access, for item reasons: "directly", "through
    group g", "through groups a, b", or several of them."""
    return _routes(account.access_via) or "no access role"


def admin_of(account: SnapshotAccount) -> str:
    """Where the account's admin rights come from, for item reasons."""
    return _routes(account.admin_via, roles=True) or "no admin right"


def _routes(grants: Iterable[Grant], *, roles: bool = False) -> str:
    direct: list[str] = []
    groups: list[str] = []
    for g in grants:
        role = f" {g.role}" if roles and g.role else ""
        if g.kind is GrantKind.DIRECT:
            direct.append(f"role{role} granted directly" if role else "directly")
        elif g.source is GrantSource.ADMIN_GROUPS_SETTING:
            groups.append(f"{g.group or 'a group'} (a configured admin group)")
        else:
            groups.append(f"{g.group or 'an unnamed group'}{f' ({role.strip()})' if role else ''}")
    parts = list(dict.fromkeys(direct))
    if groups:
        parts.append(
            ("through group " if len(groups) == 1 else "through groups ") + ", ".join(groups)
        )
    return "; ".join(parts)


def when(at: datetime) -> str:
    """A timestamp as item reasons show it."""
    return f"{at:%Y-%m-%d %H:%M} UTC"
