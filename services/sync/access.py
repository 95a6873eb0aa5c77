"""How each account of a snapshot holds Confluence access and admin rights (docs/access.md).

With an Admin API key, Atlassian's directory is the authority: an account holds Confluence
access on the site when its ``productAccess`` has the Confluence entry of the site's cloud id
(an ``atlassian/user`` or ``atlassian/admin`` role, through a group or directly), and it uses
that access only while its account is active and its membership of the site's directory is
not suspended. Admin rights are roles too: ``atlassian/admin`` on the site's Confluence (the
role-filtered users search), ``atlassian/site-admin`` on the site and ``atlassian/org-admin``
(``platformRoles``, confirmed per site by a role-assignments read).

Atlassian does not say *which* group gives a role to an account (a role assignment's method
is ``group_direct``, without the group). A group is taken to carry a role when every member
the directory lists holds it (if the group carried it, they all would); a group with a member
the directory shows without it does not. This is never inferred from a group's name. It can
name a group that gives nothing when all its members hold the role some other way, and it
cannot judge a group none of whose members the directory lists (apps, customers): those keep
"membership only" (``GrantSource.GROUP_MEMBERSHIP``). DIRECT is certain when no group of the
account carries the role, or when the account's role assignments were read and say ``direct``.

Without a key, group membership is the only signal: every group gives access and the
integration's configured admin groups (``adminGroups``) give admin rights.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from services.confluence.models import RoleAssignment
from services.models import ClaimStatus, DirectoryStatus
from services.sync.models import (
    DirectoryEntry,
    Grant,
    GrantSource,
    RoleRead,
    SnapshotAccount,
    TallyCounts,
)

USER, ADMIN = "atlassian/user", "atlassian/admin"
SITE_ADMIN, ORG_ADMIN = "atlassian/site-admin", "atlassian/org-admin"
ACCESS_ROLES = (USER, ADMIN)
DIRECT, GROUP_DIRECT = "direct", "group_direct"


def confluence_resource(cloud_id: str) -> str:
    """The ARI of a site's Confluence (confluence-api.md §5.8, ``resourceIds``)."""
    return f"ari:cloud:confluence::site/{cloud_id}"


def on_site(resource_id: str, cloud_id: str) -> bool:
    """Whether a role assignment's resource is this site (its Confluence, or the site itself
    for ``atlassian/site-admin``: an ARI ending in ``::site/{cloudId}``)."""
    return resource_id.endswith(f"::site/{cloud_id}")


class Verdict(enum.Enum):
    """Whether a group carries a role, judged from what the directory shows of its members."""

    CARRIES = "carries"  # every member the directory lists holds it
    NOT = "not"  # a member the directory lists does not
    UNKNOWN = "unknown"  # the directory lists none of its members


@dataclass(slots=True)
class GroupTally:
    """A group's members as the directory shows them."""

    listed: int = 0  # members the directory lists
    with_access: int = 0
    admins: int = 0  # product admins (atlassian/admin on the site's Confluence)
    site_admins: int = 0

    def verdict(self, holders: int) -> Verdict:
        """The verdict for a role ``holders`` of the listed members hold."""
        if self.listed == 0:
            return Verdict.UNKNOWN
        return Verdict.CARRIES if holders == self.listed else Verdict.NOT

    def counts(self) -> TallyCounts:
        """The counts, as a snapshot keeps them."""
        return TallyCounts(self.listed, self.with_access, self.admins, self.site_admins)

    @classmethod
    def of(cls, counts: TallyCounts) -> GroupTally:
        """A tally from stored counts."""
        return cls(counts.listed, counts.with_access, counts.admins, counts.site_admins)

    def verdicts(self) -> tuple[Verdict, Verdict, Verdict]:
        """Access, product admin and site admin verdicts (a change of any re-judges the
        group's members)."""
        return (
            self.verdict(self.with_access),
            self.verdict(self.admins),
            self.verdict(self.site_admins),
        )


@dataclass(frozen=True, slots=True)
class AccountRoles:
    """An account's role assignments on this site (one role-assignments read)."""

    methods: dict[str, tuple[str, ...]]  # role → assignment methods, on this site's resources
    directory_id: str | None
    directory_status: DirectoryStatus | None

    @classmethod
    def of(cls, assignments: Iterable[RoleAssignment], cloud_id: str) -> AccountRoles:
        """The assignments of ``cloud_id``'s resources (other sites' are ignored)."""
        methods: dict[str, tuple[str, ...]] = {}
        directory_id = status = None
        for entry in assignments:
            if not on_site(entry.resource_id, cloud_id):
                continue
            for role, how in entry.roles:
                methods[role] = tuple(dict.fromkeys((*methods.get(role, ()), *how)))
            here = entry.resource_id == confluence_resource(cloud_id) and entry.directory_id
            if here and (directory_id is None or status is None):  # the first that says
                directory_id, status = entry.directory_id, entry.directory_status
        return cls(methods, directory_id, status)

    def held(self, roles: Sequence[str]) -> tuple[str, ...]:
        """The assignment methods of any of ``roles``."""
        return tuple(m for r in roles for m in self.methods.get(r, ()))

    def to_read(self) -> RoleRead:
        """The read, as a snapshot keeps it."""
        return RoleRead(tuple(self.methods.items()), self.directory_id, self.directory_status)

    @classmethod
    def from_read(cls, read: RoleRead) -> AccountRoles:
        """A kept read."""
        return cls(dict(read.methods), read.directory_id, read.directory_status)


@dataclass(slots=True)
class RoleFacts:
    """What a run learned of roles on the site besides each directory user."""

    cloud_id: str
    admin_groups: frozenset[str] = frozenset()  # configured, case-folded (no key)
    group_ids: dict[str, str] = field(default_factory=dict)  # name → id
    has_directory: bool = False  # Atlassian's directory was read (an Admin API key)
    product_admins: set[str] = field(default_factory=set)
    site_admins: set[str] = field(default_factory=set)  # of this site
    org_admins: set[str] = field(default_factory=set)
    reads: dict[str, AccountRoles] = field(default_factory=dict)
    site_directory: str | None = None
    single_directory: bool = False  # membershipStatus is then the site directory's status
    tallies: dict[str, GroupTally] = field(default_factory=dict)

    def tally(self, groups: Iterable[str], entry: DirectoryEntry | None) -> None:
        """Count one account (in ``groups``) towards its groups' verdicts."""
        if entry is None:
            return
        account_id = entry.account_id
        for name in groups:
            t = self.tallies.setdefault(name, GroupTally())
            t.listed += 1
            t.with_access += entry.site_access
            t.admins += account_id in self.product_admins
            t.site_admins += account_id in self.site_admins

    def access_verdict(self, group: str) -> Verdict:
        """Whether ``group`` gives Confluence access."""
        t = self.tallies.get(group, GroupTally())
        return t.verdict(t.with_access)

    def admin_verdict(self, group: str, role: str) -> Verdict:
        """Whether ``group`` carries the admin ``role`` (product admin or site admin)."""
        t = self.tallies.get(group, GroupTally())
        return t.verdict(t.admins if role == ADMIN else t.site_admins)

    def group(self, name: str | None, source: GrantSource, role: str | None = None) -> Grant:
        """A GROUP grant of group ``name`` (its id when the snapshot lists it)."""
        group_id = self.group_ids.get(name) if name is not None else None
        return Grant.via_group(name, source, group_id=group_id, role=role)


def account_access(
    base: SnapshotAccount, entry: DirectoryEntry | None, facts: RoleFacts
) -> SnapshotAccount:
    """``base`` (identity fields, status, groups) with its grants and directory facts."""
    groups = base.groups
    if not facts.has_directory:
        return replace(
            base,
            access_via=tuple(facts.group(g, GrantSource.GROUP_MEMBERSHIP) for g in groups),
            admin_via=tuple(
                facts.group(g, GrantSource.ADMIN_GROUPS_SETTING)
                for g in groups
                if g.casefold() in facts.admin_groups
            ),
        )
    if entry is None:
        return replace(
            base,
            access_via=_unlisted_access(groups, facts),
            admin_via=_unlisted_admin(groups, facts),
        )
    read = facts.reads.get(entry.account_id)
    # The organization-wide ``membershipStatus`` is the site directory's status when the
    # organization has one directory, or the account is suspended in all of them; an account
    # in several directories gets its own read (docs/access.md).
    status = entry.membership_status
    if read is not None and read.directory_status is not None:
        status = read.directory_status
    return replace(
        base,
        access_via=_listed_access(entry, groups, read, facts),
        admin_via=_listed_admin(entry.account_id, groups, read, facts),
        directory_status=status,
        directory_id=(read.directory_id if read and read.directory_id else facts.site_directory),
        claim_status=entry.claim_status if entry.claim_status is not ClaimStatus.UNKNOWN else None,
    )


def _unlisted_access(groups: Sequence[str], facts: RoleFacts) -> tuple[Grant, ...]:
    """An account the directory does not list (app, customer): through its groups that carry
    access, and those the directory cannot judge (membership only)."""
    grants = []
    for g in groups:
        verdict = facts.access_verdict(g)
        if verdict is Verdict.CARRIES:
            grants.append(facts.group(g, GrantSource.ATLASSIAN))
        elif verdict is Verdict.UNKNOWN:
            grants.append(facts.group(g, GrantSource.GROUP_MEMBERSHIP))
    return tuple(grants)


def _unlisted_admin(groups: Sequence[str], facts: RoleFacts) -> tuple[Grant, ...]:
    grants = []
    for g in groups:
        for role in (ADMIN, SITE_ADMIN):
            if facts.admin_verdict(g, role) is Verdict.CARRIES:
                grants.append(facts.group(g, GrantSource.ATLASSIAN, role))
        if facts.admin_verdict(g, ADMIN) is Verdict.UNKNOWN and g.casefold() in facts.admin_groups:
            grants.append(facts.group(g, GrantSource.ADMIN_GROUPS_SETTING))
    return tuple(grants)


def _listed_access(
    entry: DirectoryEntry, groups: Sequence[str], read: AccountRoles | None, facts: RoleFacts
) -> tuple[Grant, ...]:
    if not entry.site_access:
        return ()
    carrying = [g for g in groups if facts.access_verdict(g) is Verdict.CARRIES]
    if read is not None and read.held(ACCESS_ROLES):
        methods = read.held(ACCESS_ROLES)
        via = (
            [facts.group(g, GrantSource.ATLASSIAN) for g in carrying]
            if GROUP_DIRECT in methods
            else []
        )
        if GROUP_DIRECT in methods and not via:
            via = [facts.group(None, GrantSource.ATLASSIAN)]
        if DIRECT in methods or not via:
            via.append(Grant.direct())
        return tuple(via)
    via = [facts.group(g, GrantSource.ATLASSIAN) for g in carrying]
    return tuple(via) if via else (Grant.direct(),)


def _listed_admin(
    account_id: str, groups: Sequence[str], read: AccountRoles | None, facts: RoleFacts
) -> tuple[Grant, ...]:
    grants: list[Grant] = []
    if account_id in facts.org_admins:
        grants.append(Grant.direct(ORG_ADMIN))
    for role, holders in ((ADMIN, facts.product_admins), (SITE_ADMIN, facts.site_admins)):
        if account_id not in holders:
            continue
        carrying = [g for g in groups if facts.admin_verdict(g, role) is Verdict.CARRIES]
        methods = read.methods.get(role, ()) if read is not None else ()
        if read is None or not methods:  # no read (or it lags the search): judged by groups
            via = [facts.group(g, GrantSource.ATLASSIAN, role) for g in carrying]
            grants.extend(via or [Grant.direct(role)])
            continue
        if GROUP_DIRECT in methods:
            named = [facts.group(g, GrantSource.ATLASSIAN, role) for g in carrying]
            grants.extend(named or [facts.group(None, GrantSource.ATLASSIAN, role)])
        if DIRECT in methods:
            grants.append(Grant.direct(role))
    return tuple(grants)
