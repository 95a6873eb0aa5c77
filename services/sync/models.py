"""Sync domain objects: runs, progress, leases, and the snapshot data queries return."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from services.integrations.models import Purpose
from services.models import AccountStatus, AccountType, ClaimStatus, DirectoryStatus


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
    # The change watch read events from Atlassian's audit log (services/watch).
    EVENTS = "EVENTS"
    # Queued to follow something that changed data: a verified remediation, or a refresh
    # that could not be applied to the current snapshot exactly.
    FOLLOW_UP = "FOLLOW_UP"


class SyncRunKind(enum.StrEnum):
    """What a run reads: everything, or what events named (ADR 020)."""

    FULL = "FULL"
    TARGETED = "TARGETED"


class Phase(enum.StrEnum):
    """What a run is doing, in the order of a sync; published with its progress."""

    QUEUED = "queued"
    STARTING = "starting"
    GROUPS = "groups"
    MEMBERS = "members"
    DIRECTORY = "directory"
    ROLES = "roles"
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
class RunTargets:
    """What a TARGETED run re-reads: accounts (by id) and groups (by id)."""

    accounts: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.accounts or self.groups)

    def __len__(self) -> int:
        return len(self.accounts) + len(self.groups)

    def merged(self, other: RunTargets) -> RunTargets:
        """Both sets of targets, each id once, sorted."""
        return RunTargets(
            tuple(sorted({*self.accounts, *other.accounts})),
            tuple(sorted({*self.groups, *other.groups})),
        )


@dataclass(frozen=True, slots=True)
class WatchMark:
    """Where the change watch stands once a run commits (written in the same write that makes
    its snapshot current): the events-stream cursor after the events the run applies, the ids
    of the latest events read (a redelivered one is recognised), the processing time of the
    last event covered and the newest ``time`` among the events applied."""

    cursor: str
    event_ids: tuple[str, ...] = ()
    processed_at: datetime | None = None
    event_time: datetime | None = None


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
    kind: SyncRunKind = SyncRunKind.FULL
    # TARGETED: what it re-reads (coalesced events); FULL runs read everything.
    targets: RunTargets = field(default_factory=RunTargets)
    # The change watch's position to commit with the snapshot (runs the watch asked for).
    watch: WatchMark | None = None
    # The snapshot that was current when the run was claimed (what it refreshes, or what a
    # full sync compares its own snapshot with).
    previous_snapshot_id: str | None = None

    @property
    def active(self) -> bool:
        """Queued or running."""
        return self.status in (SyncRunStatus.QUEUED, SyncRunStatus.RUNNING)


@dataclass(frozen=True, slots=True)
class RunRequest:
    """A run to queue: the integration, why, what it reads (a TARGETED run: ``targets``) and
    the change watch's position to commit with its snapshot (the fields of ``SyncRun``)."""

    organization_id: str
    integration_id: str
    purpose: Purpose
    trigger: SyncTrigger
    kind: SyncRunKind = SyncRunKind.FULL
    targets: RunTargets | None = None
    watch: WatchMark | None = None


@dataclass(frozen=True, slots=True)
class RunEnd:
    """How a run ended, as ``finish`` records it on the run (the fields of ``SyncRun``)."""

    status: SyncRunStatus
    progress: SyncProgress
    error: str | None = None
    error_endpoint: str | None = None
    counts: SnapshotCounts | None = None
    not_before: datetime | None = None
    warnings: tuple[str, ...] = ()
    previous_snapshot_id: str | None = None


@dataclass(frozen=True, slots=True)
class SnapshotCommit:
    """What makes a run's snapshot current: the integration and the run's fence token, the
    snapshot and its time, where the change watch then stands, and whether the read was full
    (a targeted run leaves the time of the last full read where it is)."""

    integration_id: str
    token: int
    snapshot_id: str
    snapshot_at: datetime
    watch: WatchMark | None = None
    full: bool = True


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


class GrantKind(enum.StrEnum):
    """How an account holds a right on the site (Atlassian's role-assignment methods:
    ``group_direct`` is GROUP, ``direct`` is DIRECT; confluence-api.md §5.9)."""

    GROUP = "GROUP"  # through membership of a group (``Grant.group``)
    DIRECT = "DIRECT"  # assigned to the account itself, no group involved


class GrantSource(enum.StrEnum):
    """Where Vigil learned of a grant (docs/access.md)."""

    # Atlassian's directory (Admin API key): ``productAccess``, the role-filtered users
    # search, ``platformRoles``, role assignments.
    ATLASSIAN = "ATLASSIAN"
    # Group membership alone: without an Admin API key every group counts as giving access
    # (or, with one, a group whose members the directory cannot show: apps, customers).
    GROUP_MEMBERSHIP = "GROUP_MEMBERSHIP"
    # Membership of one of the integration's configured admin groups (``adminGroups``), the
    # admin signal without an Admin API key.
    ADMIN_GROUPS_SETTING = "ADMIN_GROUPS_SETTING"


@dataclass(frozen=True, slots=True)
class Grant:
    """One route by which an account holds Confluence access or admin rights on the site.

    ``group``/``group_id`` name the group for GROUP (``group`` None: Atlassian says "through a
    group" but no group of the snapshot could be named); ``role`` is Atlassian's role id when
    known (``atlassian/user``, ``atlassian/admin``, ``atlassian/site-admin``,
    ``atlassian/org-admin``), None when measured through membership only.
    """

    kind: GrantKind
    source: GrantSource
    group: str | None = None
    group_id: str | None = None
    role: str | None = None

    @classmethod
    def direct(cls, role: str | None = None) -> Grant:
        """Held by the account itself (Atlassian's directory says so)."""
        return cls(GrantKind.DIRECT, GrantSource.ATLASSIAN, role=role)

    @classmethod
    def via_group(
        cls,
        group: str | None,
        source: GrantSource,
        *,
        group_id: str | None = None,
        role: str | None = None,
    ) -> Grant:
        """Held through membership of ``group``."""
        return cls(GrantKind.GROUP, source, group=group, group_id=group_id, role=role)


@dataclass(frozen=True, slots=True)
class SnapshotAccount:
    """An account as seen in one ACCESS_REVIEW snapshot.

    ``account_status`` is Atlassian's ``accountStatus`` (the account itself: deactivated or
    closed accounts cannot log in anywhere); ``directory_status`` its status in the directory
    the site is mapped to (suspension is per directory; None without an Admin API key or when
    the directory does not list the account); ``access_via`` how it holds Confluence access
    on this site (empty: no access role), ``admin_via`` where its admin rights come from
    (empty: not an admin). ``has_access`` is what the access checks judge.
    """

    account_id: str
    display_name: str | None
    email: str | None
    account_type: AccountType
    account_status: AccountStatus
    mfa_enabled: bool | None
    groups: tuple[str, ...]
    last_active_at: datetime | None = None
    access_via: tuple[Grant, ...] = ()
    admin_via: tuple[Grant, ...] = ()
    directory_status: DirectoryStatus | None = None
    directory_id: str | None = None
    claim_status: ClaimStatus | None = None

    @property
    def has_access(self) -> bool:
        """Confluence access now: an active account, not suspended in the site's directory,
        holding an access role (through a group or directly)."""
        return (
            self.account_status is AccountStatus.ACTIVE
            and self.directory_status is not DirectoryStatus.SUSPENDED
            and bool(self.access_via)
        )

    @property
    def is_admin(self) -> bool:
        """Holds admin rights on the site's Confluence (see ``admin_via``)."""
        return bool(self.admin_via)

    @property
    def access_direct(self) -> bool:
        """Holds access directly (no group): no group removal takes it away."""
        return any(g.kind is GrantKind.DIRECT for g in self.access_via)

    @property
    def access_groups(self) -> tuple[str, ...]:
        """The names of the groups that give it access."""
        return tuple(g.group for g in self.access_via if g.group is not None)


@dataclass(frozen=True, slots=True)
class SnapshotGroup:
    """A Confluence group as seen in one ACCESS_REVIEW snapshot (``managed_by``: Atlassian's
    ``managedBy`` when the group carries it; ``EXTERNAL`` is a group synced from an identity
    provider, whose members remediation never changes)."""

    group_id: str
    name: str
    managed_by: str | None = None


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
    has_access: bool | None = None
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
class RoleRead:
    """An account's role assignments on the site (one read), as a snapshot keeps them:
    role → assignment methods, and the site directory with the account's status there."""

    methods: tuple[tuple[str, tuple[str, ...]], ...] = ()
    directory_id: str | None = None
    directory_status: DirectoryStatus | None = None


@dataclass(frozen=True, slots=True)
class AccountFacts:
    """What a sync learned of an account's roles besides its directory entry (kept with it,
    so a targeted refresh judges it as a full sync would; docs/access.md)."""

    product_admin: bool = False  # atlassian/admin on the site's Confluence (role search)
    org_admin: bool = False  # platformRoles
    site_admin_candidate: bool = False  # platformRoles names site-admin (of some site)
    site_admin: bool = False  # of this site (a read confirmed it, or it was left unread)
    in_several: bool = False  # member of another directory too, not suspended everywhere
    read: RoleRead | None = None  # its role assignments, when the sync read them

    @property
    def wanted(self) -> bool:
        """Whether a full sync reads this account's role assignments."""
        return self.product_admin or self.site_admin_candidate or self.in_several

    def __bool__(self) -> bool:
        return self != AccountFacts()


@dataclass(frozen=True, slots=True)
class TallyCounts:
    """A group's members as the directory showed them (which roles the group carries is
    judged from these counts: ``services.sync.access``)."""

    listed: int = 0  # members the directory lists
    with_access: int = 0
    admins: int = 0  # product admins (atlassian/admin on the site's Confluence)
    site_admins: int = 0


@dataclass(frozen=True, slots=True)
class SiteFacts:
    """What an ACCESS_REVIEW sync with an Admin API key learned of the site as a whole."""

    cloud_id: str
    directories: tuple[str, ...] = ()
    site_directory: str | None = None
    single_directory: bool = False
    # The role-assignment reads a full sync wants, and whether it left some unread.
    wanted_reads: int = 0
    reads_overflow: bool = False
    first_with_access: str | None = None


@dataclass(frozen=True, slots=True)
class SnapshotManifest:
    """How an ACCESS_REVIEW snapshot is stored (ADR 020).

    A full sync's snapshot holds every document itself (``base_id`` None). A targeted run's
    snapshot is a *layer* over a full one: it holds only the accounts and groups re-read or
    re-judged since that full sync (``accounts``, ``groups``: every id listed, whether the
    layer holds a document for it or it is gone); every other account and group is the
    base's. Readers resolve the two (``services/store/snapshot_layers.py``).
    """

    snapshot_id: str
    base_id: str | None = None
    accounts: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    facts: SiteFacts | None = None
    # A layer: the processing time of the last audit event it applied (events after it in
    # the stream were not applied yet; what a comparison with a full sync needs).
    events_until: datetime | None = None

    @property
    def layered(self) -> bool:
        """Whether the snapshot is a layer over a full one."""
        return self.base_id is not None


@dataclass(frozen=True, slots=True)
class DirectoryEntry:
    """What the Admin API's directory says about an account (``services.sync.access``):
    ``site_access`` is a Confluence ``productAccess`` entry for the site (an access role,
    whatever the status), ``membership_status`` the organization-wide ``membershipStatus``."""

    account_id: str
    account_status: AccountStatus
    mfa_enabled: bool | None
    last_active: datetime | None
    membership_status: DirectoryStatus = DirectoryStatus.UNKNOWN
    claim_status: ClaimStatus = ClaimStatus.UNKNOWN
    site_access: bool = False
    facts: AccountFacts = field(default_factory=AccountFacts)


@dataclass(frozen=True, slots=True)
class StoredGroup:
    """A group of a snapshot with the tally its sync kept (None: kept none)."""

    group: SnapshotGroup
    tally: TallyCounts | None = None


@dataclass(frozen=True, slots=True)
class LayerWrite:
    """Everything a targeted run writes: a layer over ``manifest.base_id`` (ADR 020).

    ``changed_accounts`` / ``changed_groups`` are what this run re-read or re-judged; the
    documents of those in the snapshot are in ``accounts``, ``directory``, ``memberships`` and
    ``groups`` (one listed without a document is gone). Whatever else ``manifest`` lists is
    carried over from ``previous_id``'s layer unchanged.
    """

    scope: SnapshotScope
    manifest: SnapshotManifest
    previous_id: str
    changed_accounts: tuple[str, ...] = ()
    changed_groups: tuple[str, ...] = ()
    accounts: tuple[SnapshotAccount, ...] = ()
    directory: tuple[DirectoryEntry, ...] = ()
    memberships: tuple[tuple[str, SnapshotGroup], ...] = ()  # (account id, group)
    groups: tuple[StoredGroup, ...] = ()
