"""GraphQL types of sync runs and their progress."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from resolvers.errors import UserError
from resolvers.relay import PageInfo
from services.paging import Slice
from services.sync import models


@strawberry.enum
class SyncRunStatus(Enum):
    """Lifecycle of a sync run."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


@strawberry.enum
class SyncTrigger(Enum):
    """Why a run started."""

    INITIAL = "INITIAL"
    MANUAL = "MANUAL"
    SCHEDULED = "SCHEDULED"


@strawberry.type
class SyncProgress:
    """Counters of a run (requests include retried attempts)."""

    phase: str
    requests_made: int
    items_fetched: int
    retries: int
    rate_limit_waits: int


@strawberry.type
class SnapshotCounts:
    """The size of the snapshot a successful run produced."""

    accounts: int
    groups: int
    memberships: int
    pages: int


@strawberry.type
class SyncRun:
    """One collection pass of an integration."""

    id: strawberry.ID
    integration_id: strawberry.ID
    status: SyncRunStatus
    trigger: SyncTrigger
    snapshot_id: strawberry.ID
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    progress: SyncProgress
    error: str | None
    error_endpoint: str | None = strawberry.field(
        description="The Confluence endpoint whose failure ended the run, when one did."
    )
    counts: SnapshotCounts | None
    warnings: list[str] = strawberry.field(
        description=(
            "What the run skipped and why (for example a Confluence group without an id); "
            "the snapshot lacks it."
        )
    )

    @classmethod
    def from_domain(cls, run: models.SyncRun) -> SyncRun:
        """Map the domain object."""
        p = run.progress
        counts = run.counts
        return cls(
            id=strawberry.ID(run.id),
            integration_id=strawberry.ID(run.integration_id),
            status=SyncRunStatus(run.status.value),
            trigger=SyncTrigger(run.trigger.value),
            snapshot_id=strawberry.ID(run.snapshot_id),
            created_at=run.created_at,
            started_at=run.started_at,
            finished_at=run.finished_at,
            progress=SyncProgress(
                phase=p.phase,
                requests_made=p.requests_made,
                items_fetched=p.items_fetched,
                retries=p.retries,
                rate_limit_waits=p.rate_limit_waits,
            ),
            error=run.error,
            error_endpoint=run.error_endpoint,
            warnings=list(run.warnings),
            counts=SnapshotCounts(
                accounts=counts.accounts,
                groups=counts.groups,
                memberships=counts.memberships,
                pages=counts.pages,
            )
            if counts
            else None,
        )


@strawberry.type
class SyncRunPayload:
    """The run a trigger started (or the one already running)."""

    sync_run: SyncRun | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class SyncRunEdge:
    """A run and its cursor."""

    cursor: str
    node: SyncRun


@strawberry.type
class SyncRunConnection:
    """Runs of an integration, newest first."""

    edges: list[SyncRunEdge]
    page_info: PageInfo
    total_count: int

    @classmethod
    def of(cls, page: Slice[models.SyncRun]) -> SyncRunConnection:
        """Map a service-layer slice."""
        return cls(
            edges=[SyncRunEdge(cursor=c, node=SyncRun.from_domain(r)) for c, r in page.items],
            page_info=PageInfo.of(page),
            total_count=page.total_count,
        )
