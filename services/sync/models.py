"""Sync domain objects: runs, progress, leases, and the snapshot data queries return."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from services.integrations.models import Purpose
from services.models import AccountStatus, AccountType


class SyncRunStatus(enum.StrEnum):
    """Lifecycle of a sync run (SPEC §3.2)."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class SyncTrigger(enum.StrEnum):
    """Why a run was started."""

    INITIAL = "INITIAL"
    MANUAL = "MANUAL"
    SCHEDULED = "SCHEDULED"


class Phase(enum.StrEnum):
    """What a run is doing, in the order of a sync; published with its progress."""

    QUEUED = "queued"
    STARTING = "starting"
    GROUPS = "groups"
    MEMBERS = "members"
    DIRECTORY = "directory"
    USERS = "users"
    PAGES = "pages"
    COMMITTING = "committing"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class SyncProgress:
    """Counters of a run: requests (attempts) made, items fetched, retries, rate-limit waits."""

    phase: str = Phase.QUEUED.value
    requests_made: int = 0
    items_fetched: int = 0
    retries: int = 0
    rate_limit_waits: int = 0


@dataclass(frozen=True, slots=True)
class SnapshotCounts:
    """The size of a snapshot (set when its run succeeded)."""

    accounts: int = 0
    groups: int = 0
    memberships: int = 0
    pages: int = 0


@dataclass(frozen=True, slots=True)
class SyncRun:
    """One collection pass of an integration; its snapshot is ``snapshot_id``."""

    id: str
    organization_id: str
    integration_id: str
    purpose: Purpose
    status: SyncRunStatus
    trigger: SyncTrigger
    snapshot_id: str
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    progress: SyncProgress = field(default_factory=SyncProgress)
    error: str | None = None
    error_endpoint: str | None = None
    counts: SnapshotCounts | None = None
    owner: str | None = None
    fence: int | None = None
    # Set while RUNNING when something changed what a sync collects (an admin key, a
    # re-connect, a ``triggerSync``): one more run, with this trigger, starts after this one.
    follow_up: SyncTrigger | None = None
    # A failed run whose cause lasts (an exhausted quota): no scheduled run before this.
    not_before: datetime | None = None
    # What the run skipped and why (a group without an id): the snapshot lacks it.
    warnings: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        """Queued or running."""
        return self.status in (SyncRunStatus.QUEUED, SyncRunStatus.RUNNING)


@dataclass(frozen=True, slots=True)
class Lease:
    """The right to run an integration's sync, held by ``owner`` until ``expires_at``.

    ``token`` grows by one at every acquisition: it is the fencing token that writes of the
    holder carry, so a holder whose lease expired and was taken over cannot commit.
    """

    integration_id: str
    owner: str
    token: int
    expires_at: datetime
    heartbeat_at: datetime
    run_id: str | None = None


@dataclass(frozen=True, slots=True)
class SnapshotAccount:
    """An account as seen in one ACCESS_REVIEW snapshot."""

    account_id: str
    display_name: str | None
    email: str | None
    account_type: AccountType
    account_status: AccountStatus
    is_admin: bool
    mfa_enabled: bool | None
    groups: tuple[str, ...]
    last_active_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SnapshotGroup:
    """A Confluence group as seen in one ACCESS_REVIEW snapshot."""

    group_id: str
    name: str


@dataclass(frozen=True, slots=True)
class SnapshotPage:
    """A Confluence page as seen in one POLICY snapshot."""

    page_id: str
    title: str
    status: str
    space_key: str | None
    space_name: str | None
    version: int | None
    last_modified_at: datetime | None
    last_modified_by: str | None
    created_at: datetime | None
    created_by: str | None
    labels: tuple[str, ...]
    web_url: str | None
    body_storage: str | None = None


@dataclass(frozen=True, slots=True)
class AccountFilter:
    """Filters of ``accounts``; None means "any". ``search`` matches name or email."""

    classification: str | None = None
    status: AccountStatus | None = None
    admin: bool | None = None
    group: str | None = None
    search: str | None = None
    account_type: AccountType | None = None
    # The status (a PersonStatus value) of the person the account is linked to.
    person_status: str | None = None


@dataclass(frozen=True, slots=True)
class PageFilter:
    """Filters of ``confluencePages``; ``space`` is a space key, ``search`` matches titles."""

    label: str | None = None
    space: str | None = None
    search: str | None = None


@dataclass(frozen=True, slots=True)
class SnapshotScope:
    """Which snapshot (and whose) a write belongs to."""

    snapshot_id: str
    integration_id: str
    organization_id: str

    def key(self, natural_id: str) -> str:
        """The document id of an item in this snapshot."""
        return f"{self.snapshot_id}:{natural_id}"

    def tags(self) -> dict[str, str]:
        """The fields every document of this snapshot carries."""
        return {
            "snapshot_id": self.snapshot_id,
            "integration_id": self.integration_id,
            "organization_id": self.organization_id,
        }


@dataclass(frozen=True, slots=True)
class DirectoryEntry:
    """What the Admin API says about an account."""

    account_id: str
    account_status: AccountStatus
    mfa_enabled: bool | None
    last_active: datetime | None
