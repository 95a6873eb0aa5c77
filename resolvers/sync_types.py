"""GraphQL types of sync runs and their progress."""

from __future__ import annotations

from datetime import datetime

import strawberry

from resolvers.enums import graphql_enum
from resolvers.errors import payload, result_field
from resolvers.mapping import mapped
from resolvers.relay import Connection, Edge, Node
from services.paging import Slice
from services.sync import models
from services.sync.models import Phase, SyncRunKind, SyncRunStatus, SyncTrigger

graphql_enum(
    SyncRunStatus,
    name="SyncRunStatus",
    description="Lifecycle of a sync run.",
    values={
        SyncRunStatus.QUEUED: "Waiting for a worker.",
        SyncRunStatus.RUNNING: "Collecting from Confluence.",
        SyncRunStatus.SUCCEEDED: "Finished; its snapshot is now the current data.",
        SyncRunStatus.FAILED: "Ended without a snapshot; `error` says why. Old data is kept.",
    },
)


graphql_enum(
    SyncTrigger,
    name="SyncTrigger",
    description="Why a run started.",
    values={
        SyncTrigger.INITIAL: "The first sync after connecting.",
        SyncTrigger.MANUAL: "An ADMIN called `triggerSync`.",
        SyncTrigger.SCHEDULED: "The schedule (every `syncIntervalMinutes`).",
        SyncTrigger.EVENTS: (
            "The change watch: events in the Atlassian organization's audit log named "
            "accounts or groups of the site (`Integration.changeWatch`)."
        ),
        SyncTrigger.FOLLOW_UP: (
            "Queued to follow something that changed data: a verified remediation, or a "
            "refresh that could not be applied to the current snapshot exactly."
        ),
    },
)


graphql_enum(
    SyncRunKind,
    name="SyncRunKind",
    description="What a run reads.",
    values={
        SyncRunKind.FULL: "Everything the integration's purpose needs: a full sync.",
        SyncRunKind.TARGETED: (
            "Only the accounts and groups that events named, on top of the current snapshot "
            "(ACCESS_REVIEW with the change watch); its snapshot equals what a full sync "
            "would make. One that cannot be exact becomes FULL (its `warnings` say why)."
        ),
    },
)


graphql_enum(
    Phase,
    name="SyncPhase",
    description="What a run is doing, in order of the phases of a sync.",
    values={
        Phase.QUEUED: "Not started yet.",
        Phase.STARTING: "Opening the connection.",
        Phase.GROUPS: "Listing groups (ACCESS_REVIEW).",
        Phase.MEMBERS: "Listing group members.",
        Phase.DIRECTORY: "Reading the organization directory (admin key: MFA, status).",
        Phase.ROLES: "Reading admin roles and directory status (admin key).",
        Phase.USERS: "Reading user details.",
        Phase.PAGES: "Listing policy pages (POLICY).",
        Phase.COMMITTING: "Making the new snapshot current.",
        Phase.DONE: "Finished successfully.",
        Phase.FAILED: "Ended with an error.",
    },
)


@strawberry.type(description="Counters of a run so far (requests include retried attempts).")
class SyncProgress:
    phase: Phase = strawberry.field(description="What the run is doing now.")
    requests_made: int = strawberry.field(
        description="HTTP requests sent to Atlassian, retries included."
    )
    items_fetched: int = strawberry.field(
        description="Items (groups, memberships, users, pages) fetched so far."
    )
    retries: int = strawberry.field(description="Requests retried after a transient failure.")
    rate_limit_waits: int = strawberry.field(
        description="Times the run waited because Atlassian answered 429 (rate limited)."
    )


@strawberry.type(description="The size of the snapshot a successful run produced.")
class SnapshotCounts:
    accounts: int = strawberry.field(description="Accounts (ACCESS_REVIEW).")
    groups: int = strawberry.field(description="Groups (ACCESS_REVIEW).")
    memberships: int = strawberry.field(description="Group memberships (ACCESS_REVIEW).")
    pages: int = strawberry.field(description="Policy pages (POLICY).")


@strawberry.type(description="One collection pass of an integration.")
class SyncRun(Node):
    id: strawberry.ID = strawberry.field(description="Opaque run id.")
    integration_id: strawberry.ID = strawberry.field(description="The integration synced.")
    status: SyncRunStatus = strawberry.field(description="Where the run is in its lifecycle.")
    trigger: SyncTrigger = strawberry.field(description="Why the run started.")
    kind: SyncRunKind = strawberry.field(
        description="What the run reads: everything (FULL) or what events named (TARGETED)."
    )
    targets: int = strawberry.field(
        description="TARGETED: how many accounts and groups it re-reads (0 for FULL)."
    )
    snapshot_id: strawberry.ID | None = strawberry.field(
        description="The snapshot the run produced; null unless the run SUCCEEDED (a failed "
        "run's partial data is discarded)."
    )
    created_at: datetime = strawberry.field(description="When the run was queued (UTC).")
    started_at: datetime | None = strawberry.field(
        description="When a worker started it (UTC); null while QUEUED."
    )
    finished_at: datetime | None = strawberry.field(
        description="When it SUCCEEDED or FAILED (UTC); null while QUEUED or RUNNING."
    )
    progress: SyncProgress = strawberry.field(description="Counters so far (final when done).")
    error: str | None = strawberry.field(
        description="Why a FAILED run failed, in words for an ADMIN; null otherwise."
    )
    error_endpoint: str | None = strawberry.field(
        description="The Confluence endpoint whose failure ended the run, when one did."
    )
    counts: SnapshotCounts | None = strawberry.field(
        description="Size of the snapshot; null unless SUCCEEDED."
    )
    warnings: list[str] = strawberry.field(
        description=(
            "What the run skipped and why (for example a Confluence group without an id); "
            "the snapshot lacks it."
        )
    )
    initial: bool = strawberry.field(
        default=False,
        description="True only on the first message of a `syncProgress` subscription: the "
        "latest run as it was when subscribing (it may have finished long ago), not a new "
        "step. False everywhere else.",
    )

    @classmethod
    def from_domain(cls, run: models.SyncRun, *, initial: bool = False) -> SyncRun:
        """Map the domain object (``initial``: the state sent on subscribing)."""
        p = run.progress
        counts = run.counts
        succeeded = run.status is models.SyncRunStatus.SUCCEEDED
        return mapped(
            cls,
            run,
            targets=len(run.targets),
            snapshot_id=strawberry.ID(run.snapshot_id) if succeeded else None,
            progress=mapped(SyncProgress, p, phase=Phase(p.phase)),
            counts=mapped(SnapshotCounts, counts) if counts else None,
            initial=initial,
        )


@payload("The run a trigger started (or the one already running).")
class SyncRunPayload:
    sync_run: SyncRun | None = result_field("The QUEUED or RUNNING run")


@strawberry.type(description="A run and its cursor.")
class SyncRunEdge(Edge[SyncRun]):
    node: SyncRun = strawberry.field(description="The run.")


@strawberry.type(description="Runs of an integration, newest first.")
class SyncRunConnection(Connection[SyncRunEdge]):
    @classmethod
    def of(cls, page: Slice[models.SyncRun], after: str | None = None) -> SyncRunConnection:
        """Map a service-layer slice."""
        return cls.of_nodes(page, SyncRun.from_domain, after)
