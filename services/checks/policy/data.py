"""What the policy checks read, the data source that loads it, and their shared gate.

NOT_MONITORED until a POLICY integration is connected and has a first snapshot; ERROR
(items still computed over the last good snapshot, with its age) when the integration needs
re-authorisation, is in error, or its snapshot is older than three sync intervals.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from services.checks.base import Outcome, Population
from services.checks.health import by_resource, concluded_sorted, snapshot_problem
from services.checks.models import CheckItem, CheckStatus
from services.integrations.models import IntegrationStatus
from services.policies.models import PolicyState
from services.policies.state import PolicyStateLoader

POLICY = "policy"
STALE_AFTER_INTERVALS = 3
CONNECT = "connect Confluence for policies (POLICY integration)"
FIRST_SYNC = "waiting for the first policy sync of Confluence to finish"


@dataclass(frozen=True)
class PolicyData:
    """One organization's policy state at ``now``."""

    now: datetime
    state: PolicyState
    stale_after_intervals: int = STALE_AFTER_INTERVALS


class PolicyDataSource:
    """The ``policy`` data source of the check engine."""

    def __init__(self, loader: PolicyStateLoader) -> None:
        self._loader = loader

    async def load(self, organization_id: str, now: datetime) -> PolicyData:
        """Frameworks, the current POLICY snapshot's mapped pages and the documents."""
        return PolicyData(now=now, state=await self._loader.load(organization_id))


def not_monitored(data: PolicyData, population: Population) -> Outcome | None:
    """The NOT_MONITORED outcome when there is no POLICY integration or snapshot yet."""
    integration = data.state.integration
    if integration is None or integration.status is IntegrationStatus.DISCONNECTED:
        reason = CONNECT
    elif integration.current_snapshot_id is None:
        reason = FIRST_SYNC
    else:
        return None
    return Outcome(CheckStatus.NOT_MONITORED, reason, population=population)


def data_error(data: PolicyData) -> str | None:
    """Why the current POLICY snapshot cannot be trusted, or None."""
    state = data.state
    return snapshot_problem(
        state.integration, state.snapshot_at, data.now, data.stale_after_intervals, label="policy"
    )


def conclude(
    data: PolicyData, items: Iterable[CheckItem], population: Population, passing: str
) -> Outcome:
    """PASSING / FAILING over ``items``, or ERROR (items kept) when the data is unhealthy."""
    return concluded_sorted(
        by_resource(items),
        error=data_error(data),
        passing=passing,
        population=population,
        snapshot_id=data.state.snapshot_id,
        data_as_of=data.state.snapshot_at,
    )


def iso(at: datetime | None) -> str | None:
    """A JSON-ready timestamp for populations."""
    return at.isoformat() if at is not None else None
