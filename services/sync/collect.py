"""What a run collects, as declarative streams (SPEC §3.1), written into its snapshot.

ACCESS_REVIEW: the Admin API directory (when an admin key is set: one chain of cursor pages,
with ``productAccess`` and ``platformRoles``) runs alongside groups → members of every group.
With a key, the roles phase follows (``_roles``: product admins, directories, a bounded number
of role-assignment reads), then one pass over the memberships judges which groups carry
access and admin roles (``services.sync.access``). Then users-bulk for the deduplicated
account ids in batches of 250: the group members and, with a key, the directory's accounts
holding Confluence access on the site even in no group — ONE sorted read of the snapshot's
memberships (in account id order) merged with one sorted read of those directory accounts,
each batch assembled with its directory facts (looked up by key) into complete accounts, each
written once. All requests of the run share ``concurrency`` slots; the directory holds one of
them for its whole chain (it is the longest chain of pages that must be fetched one after
another, so it never waits for a slot).
POLICY: one CQL search with bodies, versions, labels and history expanded inline.

Memory: the group list, the batches in flight, and the few accounts the roles phase needs
(admins, site-admin candidates, accounts in several directories) are held; members, directory
users, accounts and pages go to the store page by page.

The client's results (``services/confluence/models.py``) stop here: each page is mapped to the
snapshot's domain models (``SnapshotGroup``, ``DirectoryEntry``, ``SnapshotAccount``,
``SnapshotPage``) before it is written, so the store and the resolvers never see them.
"""

from __future__ import annotations

import asyncio
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Mapping,
    Sequence,
)
from contextlib import aclosing
from dataclasses import dataclass, field, fields
from functools import cache
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from services.atlassian.admin import PLATFORM_ROLES, PRODUCT_ACCESS, AdminClient
from services.confluence import paths
from services.confluence.client import MAX_BULK_IDS, ConfluenceClient
from services.confluence.models import (
    BulkUser,
    DirectoryUser,
    Group,
    Member,
    Page,
    ResultPage,
    RoleAssignment,
)
from services.integrations.models import Integration, Purpose
from services.models import AccountStatus, AccountType, DirectoryStatus
from services.sync.access import (
    ADMIN,
    ORG_ADMIN,
    SITE_ADMIN,
    AccountRoles,
    RoleFacts,
    account_access,
    confluence_resource,
)
from services.sync.connector import Connector
from services.sync.models import (
    AccountFacts,
    DirectoryEntry,
    Phase,
    SiteFacts,
    SnapshotAccount,
    SnapshotGroup,
    SnapshotManifest,
    SnapshotPage,
    SnapshotScope,
    TallyCounts,
)
from services.sync.pager import Stream, first_error, run_stream, run_streams
from services.sync.progress import ProgressTracker

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

D = TypeVar("D", bound="DataclassInstance")

SEARCH_PAGE_SIZE = 50
TALLY_BATCH = 1000  # accounts per directory lookup while judging the groups
ROLE_READS = 200  # role-assignment reads per run, at most (docs/access.md)


class CollectionDataRepo(Protocol):
    """The ``SnapshotDataRepository`` methods ``Collection`` calls."""

    async def insert_groups(
        self, scope: SnapshotScope, groups: Sequence[SnapshotGroup]
    ) -> None: ...
    async def insert_memberships(
        self, scope: SnapshotScope, group: SnapshotGroup, account_ids: Sequence[str]
    ) -> None: ...
    async def insert_directory(
        self, scope: SnapshotScope, entries: Sequence[DirectoryEntry]
    ) -> None: ...
    def memberships_by_account(
        self, scope: SnapshotScope
    ) -> AsyncGenerator[tuple[str, list[str]], None]: ...
    async def directory_of(
        self, scope: SnapshotScope, account_ids: Sequence[str]
    ) -> dict[str, DirectoryEntry]: ...
    def accounts_with_site_access(self, scope: SnapshotScope) -> AsyncGenerator[str, None]: ...
    async def insert_accounts(
        self, scope: SnapshotScope, accounts: Sequence[SnapshotAccount]
    ) -> None: ...
    async def upsert_pages(self, scope: SnapshotScope, pages: Sequence[SnapshotPage]) -> None: ...
    async def record_facts(
        self,
        scope: SnapshotScope,
        accounts: Mapping[str, AccountFacts],
        tallies: Mapping[str, TallyCounts],
        group_ids: Mapping[str, str],
    ) -> None: ...
    async def write_manifest(self, manifest: SnapshotManifest) -> None: ...


@dataclass
class Collection:
    """One run's collection: its connector, its snapshot, its progress."""

    integration: Integration
    connector: Connector
    data: CollectionDataRepo
    scope: SnapshotScope
    progress: ProgressTracker
    concurrency: int = 8
    role_reads: int = ROLE_READS
    _slots: asyncio.Semaphore = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._slots = asyncio.Semaphore(max(1, self.concurrency))

    async def run(self) -> None:
        """Collect everything the integration's purpose needs."""
        if self.integration.purpose is Purpose.POLICY:
            await self._pages()
        else:
            await self._access_review()

    async def _access_review(self) -> None:
        admin_groups = frozenset(g.casefold() for g in self.integration.admin_groups)
        facts = RoleFacts("", admin_groups=admin_groups, has_directory=self._has_admin)
        seen = _DirectorySeen()
        try:
            async with asyncio.TaskGroup() as tasks:
                directory = None
                if self._has_admin:
                    directory = tasks.create_task(self._directory(facts, seen))
                groups = await self._groups()
                await self._members(groups)
                if directory is not None:
                    # whatever of the directory's chain is left after the members
                    await self.progress.enter(Phase.DIRECTORY)
                    await directory
        except BaseExceptionGroup as grouped:
            raise first_error(grouped) from None
        facts.group_ids = {g.name: g.id for g in groups}
        site: SiteFacts | None = None
        if self._has_admin:
            site = await self._roles(facts, seen)
            await self._tally(facts)
            await self._keep_facts(facts, seen)
        await self._users(facts)
        await self.data.write_manifest(SnapshotManifest(self.scope.snapshot_id, facts=site))

    @property
    def _has_admin(self) -> bool:
        return self.connector.admin is not None and bool(self.connector.admin_org_id)

    async def _groups(self) -> list[Group]:
        await self.progress.enter(Phase.GROUPS)
        groups: list[Group] = []

        async def sink(items: list[Group]) -> None:
            groups.extend(items)
            await self.data.insert_groups(self.scope, [snapshot_group(g) for g in items])

        async def fetch(cursor: str | None) -> ResultPage[Group]:
            page = await self.confluence.list_groups(cursor)
            for what in page.skipped:
                self.progress.warn(
                    f"Confluence listed {what} without an id: it was skipped, so its members "
                    "are not in this snapshot."
                )
            return page

        await run_stream(Stream(paths.GROUPS, fetch, sink), self.progress, slots=self._slots)
        return groups

    async def _members(self, groups: list[Group]) -> None:
        await self.progress.enter(Phase.MEMBERS)

        def stream(group: Group) -> Stream[Member]:
            async def fetch(cursor: str | None) -> ResultPage[Member]:
                return await self.confluence.list_group_members(group.id, cursor)

            async def sink(items: list[Member]) -> None:
                account_ids = [m.account_id for m in items]
                await self.data.insert_memberships(self.scope, snapshot_group(group), account_ids)

            return Stream(paths.GROUP_MEMBERS, fetch, sink)

        streams = (stream(g) for g in groups)
        await run_streams(streams, self.progress, concurrency=self.concurrency, slots=self._slots)

    async def _directory(self, facts: RoleFacts, seen: _DirectorySeen) -> None:
        """The Admin API directory: holds one request slot until its last page is stored."""
        admin, org_id = self._admin
        async with self._slots:
            facts.cloud_id = await self._cloud_id()
            await self._fetch_directory(admin, org_id, facts, seen)

    async def _fetch_directory(
        self, admin: AdminClient, org_id: str, facts: RoleFacts, seen: _DirectorySeen
    ) -> None:
        cloud_id = facts.cloud_id

        async def fetch(cursor: str | None) -> ResultPage[DirectoryUser]:
            return await admin.search_directory_users(
                org_id, cursor, cloud_id=cloud_id, expand=(PRODUCT_ACCESS, PLATFORM_ROLES)
            )

        async def sink(items: list[DirectoryUser]) -> None:
            seen.add(items, facts)
            await self.data.insert_directory(self.scope, [directory_entry(u) for u in items])

        stream = Stream(paths.ADMIN_DIRECTORY_USERS_SEARCH, fetch, sink)
        await run_stream(stream, self.progress)

    @property
    def _admin(self) -> tuple[AdminClient, str]:
        admin, org_id = self.connector.admin, self.connector.admin_org_id
        assert admin is not None and org_id
        return admin, org_id

    async def _roles(self, facts: RoleFacts, seen: _DirectorySeen) -> SiteFacts:
        """Admin rights and per-directory status (Admin API): the product admins of the
        site's Confluence (one role-filtered search), the organization's directories, and the
        role assignments of the accounts that need them — site-admin candidates, product
        admins, and (with several directories) accounts in more than one — at most
        ``role_reads`` per run (docs/access.md: what each costs and why)."""
        await self.progress.enter(Phase.ROLES)
        admin, org_id = self._admin
        resource = confluence_resource(facts.cloud_id)

        async def admins(items: list[DirectoryUser]) -> None:
            facts.product_admins.update(u.account_id for u in items)

        await self._search(admins, role_ids=(ADMIN,), resource_ids=(resource,))
        directories = await self._directories(admin, org_id)
        facts.single_directory = len(directories) == 1
        if facts.single_directory:
            facts.site_directory = directories[0]
        wanted = dict.fromkeys([*sorted(seen.site_admin_candidates), *sorted(facts.product_admins)])
        if len(directories) > 1:
            seen.several = await self._in_several(facts, seen, directories)
            wanted.update(dict.fromkeys(seen.several))
        budget = max(0, self.role_reads - len(facts.reads))
        todo = [a for a in wanted if a not in facts.reads]
        await self._read_roles(facts, todo[:budget])
        if len(todo) > budget:
            self.progress.warn(
                f"{len(todo) - budget} account(s) whose role assignments matter were not read "
                f"(at most {self.role_reads} reads a sync): their admin routes are judged from "
                "their groups and their suspension from the organization-wide status "
                "(docs/access.md)."
            )
        for account_id in seen.site_admin_candidates:
            read = facts.reads.get(account_id)
            if read is None or SITE_ADMIN in read.methods:  # unread: counted (the safe side)
                facts.site_admins.add(account_id)
        return SiteFacts(
            cloud_id=facts.cloud_id,
            directories=tuple(directories),
            site_directory=facts.site_directory,
            single_directory=facts.single_directory,
            wanted_reads=len(wanted),
            reads_overflow=len(todo) > budget,
            first_with_access=seen.first_with_access,
        )

    async def _keep_facts(self, facts: RoleFacts, seen: _DirectorySeen) -> None:
        """Keep the role facts of the accounts that have any, and every group's tally, with
        the snapshot: a targeted refresh judges changed accounts from them (ADR 020)."""
        several = set(seen.several)
        ids = (
            facts.product_admins
            | facts.org_admins
            | seen.site_admin_candidates
            | several
            | set(facts.reads)
        )
        accounts = {
            a: AccountFacts(
                product_admin=a in facts.product_admins,
                org_admin=a in facts.org_admins,
                site_admin_candidate=a in seen.site_admin_candidates,
                site_admin=a in facts.site_admins,
                in_several=a in several,
                read=facts.reads[a].to_read() if a in facts.reads else None,
            )
            for a in sorted(ids)
        }
        tallies = {name: t.counts() for name, t in facts.tallies.items()}
        await self.data.record_facts(self.scope, accounts, tallies, facts.group_ids)

    async def _in_several(
        self, facts: RoleFacts, seen: _DirectorySeen, directories: list[str]
    ) -> list[str]:
        """With several directories: the site's (one account's role assignments say which
        directory its Confluence is mapped to), then the accounts holding a role on the site
        that are members of another directory too and not suspended everywhere — the ones
        whose ``membershipStatus`` may hide a suspension in the site's directory."""
        if seen.first_with_access is not None and self.role_reads:
            await self._read_roles(facts, [seen.first_with_access])
            known = facts.reads.get(seen.first_with_access)
            facts.site_directory = known.directory_id if known else None
        if facts.site_directory is None:
            self.progress.warn(
                "the organization has several directories and the site's could not be read: "
                "suspensions are judged from the organization-wide status (docs/access.md)."
            )
            return []
        several: list[str] = []

        async def in_other(items: list[DirectoryUser]) -> None:
            several.extend(
                u.account_id
                for u in items
                if u.membership_status is not DirectoryStatus.SUSPENDED
                and u.account_id not in facts.reads
            )

        resource = confluence_resource(facts.cloud_id)
        for other in directories:
            if other != facts.site_directory:
                await self._search(in_other, resource_ids=(resource,), directory_ids=(other,))
        return sorted(set(several))

    async def _search(
        self,
        sink: Callable[[list[DirectoryUser]], Awaitable[None]],
        *,
        role_ids: tuple[str, ...] = (),
        resource_ids: tuple[str, ...] = (),
        directory_ids: tuple[str, ...] = (),
    ) -> None:
        """A filtered users search (no expansion: who matches is what it tells)."""
        admin, org_id = self._admin

        async def fetch(cursor: str | None) -> ResultPage[DirectoryUser]:
            return await admin.search_directory_users(
                org_id,
                cursor,
                expand=(),
                role_ids=role_ids,
                resource_ids=resource_ids,
                directory_ids=directory_ids,
            )

        stream = Stream(paths.ADMIN_DIRECTORY_USERS_SEARCH, fetch, sink)
        await run_stream(stream, self.progress, slots=self._slots)

    async def _directories(self, admin: AdminClient, org_id: str) -> list[str]:
        found: list[str] = []

        async def fetch(cursor: str | None) -> ResultPage[str]:
            return await admin.list_directories(org_id, cursor)

        async def sink(items: list[str]) -> None:
            found.extend(items)

        stream = Stream(paths.ADMIN_DIRECTORIES, fetch, sink)
        await run_stream(stream, self.progress, slots=self._slots)
        return found

    async def _read_roles(self, facts: RoleFacts, account_ids: Sequence[str]) -> None:
        """Read the role assignments of ``account_ids`` (every directory, every resource)."""
        admin, org_id = self._admin

        def stream(account_id: str) -> Stream[RoleAssignment]:
            pages: list[RoleAssignment] = []

            async def fetch(cursor: str | None) -> ResultPage[RoleAssignment]:
                return await admin.role_assignments(org_id, account_id, cursor)

            async def sink(items: list[RoleAssignment]) -> None:
                pages.extend(items)
                facts.reads[account_id] = AccountRoles.of(pages, facts.cloud_id)

            return Stream(paths.ADMIN_ROLE_ASSIGNMENTS, fetch, sink)

        streams = (stream(a) for a in account_ids)
        await run_streams(streams, self.progress, concurrency=self.concurrency, slots=self._slots)

    async def _tally(self, facts: RoleFacts) -> None:
        """Judge which groups carry access and admin roles: one pass over the memberships
        with the directory's facts of each account (see ``services.sync.access``)."""
        async with aclosing(self.data.memberships_by_account(self.scope)) as accounts:
            async for batch in _batches(accounts, TALLY_BATCH):
                directory = await self.data.directory_of(self.scope, list(batch))
                for account_id, groups in batch.items():
                    facts.tally(groups, directory.get(account_id))

    async def _cloud_id(self) -> str:
        """The site's cloud id (last activity is per site): stored when connected with OAuth,
        client credentials or a scoped token, else asked of the site's ``_edge/tenant_info``."""
        site = self.integration.site
        if site is not None and site.cloud_id:
            return site.cloud_id
        found: list[str] = []

        async def fetch(cursor: str | None) -> ResultPage[str]:
            return ResultPage([await self.confluence.tenant_info(self.confluence.base_url)], None)

        async def sink(items: list[str]) -> None:
            found.extend(items)

        await run_stream(Stream(paths.TENANT_INFO, fetch, sink), self.progress)
        return found[0]

    async def _users(self, facts: RoleFacts) -> None:
        await self.progress.enter(Phase.USERS)

        def stream(groups: dict[str, list[str]]) -> Stream[BulkUser]:
            batch = list(groups)

            async def fetch(cursor: str | None) -> ResultPage[BulkUser]:
                return ResultPage(await self.confluence.users_bulk(batch), None)

            async def sink(items: list[BulkUser]) -> None:
                directory = await self.data.directory_of(self.scope, batch)
                users = {u.account_id: u for u in items}
                accounts = [
                    assemble(a, users.get(a), groups.get(a, []), directory.get(a), facts)
                    for a in batch
                ]
                await self.data.insert_accounts(self.scope, accounts)

            return Stream(paths.USERS_BULK, fetch, sink)

        async def streams() -> AsyncGenerator[Stream[BulkUser], None]:
            members = self.data.memberships_by_account(self.scope)
            holders = self.data.accounts_with_site_access(self.scope)
            async with aclosing(members), aclosing(holders):
                accounts = _merged(members, holders) if facts.has_directory else members
                async with aclosing(accounts):
                    async for batch in _batches(accounts, MAX_BULK_IDS):
                        yield stream(batch)

        async with aclosing(streams()) as source:
            await run_streams(source, self.progress, concurrency=self.concurrency)

    async def _pages(self) -> None:
        await self.progress.enter(Phase.PAGES)
        cql = self.integration.cql

        async def fetch(cursor: str | None) -> ResultPage[Page]:
            return await self.confluence.search_content(cql, cursor, limit=SEARCH_PAGE_SIZE)

        async def sink(items: list[Page]) -> None:
            await self.data.upsert_pages(self.scope, [snapshot_page(p) for p in items])

        await run_stream(Stream(paths.CONTENT_SEARCH, fetch, sink), self.progress)

    @property
    def confluence(self) -> ConfluenceClient:
        """The run's Confluence client."""
        return self.connector.confluence


def snapshot_group(group: Group) -> SnapshotGroup:
    """A listed group, as the snapshot keeps it."""
    return SnapshotGroup(group_id=group.id, name=group.name, managed_by=group.managed_by)


def directory_entry(user: DirectoryUser) -> DirectoryEntry:
    """What the snapshot keeps of a directory user (status, MFA, last activity, access)."""
    return _same_named(DirectoryEntry, user)


def snapshot_page(page: Page) -> SnapshotPage:
    """A page found by the integration's CQL, as the snapshot keeps it."""
    return _same_named(SnapshotPage, page, page_id=page.id, version=page.version_number)


def _same_named(cls: type[D], source: DataclassInstance, **given: Any) -> D:
    """A ``cls`` from the fields it shares by name with the dataclass ``source`` and ``given``
    (those ``cls`` has that ``source`` lacks keep their defaults unless given)."""
    names, read = _shared_fields(cls, type(source), frozenset(given))
    return cls(**dict(zip(names, read(source), strict=True)), **given)


@cache
def _shared_fields(
    cls: type[DataclassInstance], source: type[DataclassInstance], given: frozenset[str]
) -> tuple[tuple[str, ...], attrgetter[tuple[Any, ...]]]:
    """The fields of dataclass ``cls`` that dataclass ``source`` also has (but ``given``), and
    a reader of their values from a ``source`` (at least two: ``attrgetter`` gives a tuple)."""
    kept = {f.name for f in fields(source)} - given
    names = tuple(f.name for f in fields(cls) if f.name in kept)
    return names, attrgetter(*names)


def assemble(
    account_id: str,
    user: BulkUser | None,
    groups: list[str],
    directory: DirectoryEntry | None,
    facts: RoleFacts,
) -> SnapshotAccount:
    """One account of the snapshot from users-bulk, its groups, the directory and the run's
    role facts (``services.sync.access.account_access``: its grants and directory status).

    The directory's status is authoritative when it knows one; MFA and last active come only
    from the directory.
    """
    status = user.account_status if user else AccountStatus.UNKNOWN
    if directory is not None and directory.account_status is not AccountStatus.UNKNOWN:
        status = directory.account_status
    base = SnapshotAccount(
        account_id=account_id,
        display_name=(user.display_name or None) if user else None,
        email=user.email if user else None,
        account_type=user.account_type if user else AccountType.UNKNOWN,
        account_status=status,
        mfa_enabled=directory.mfa_enabled if directory else None,
        groups=tuple(sorted(groups)),
        last_active_at=directory.last_active if directory else None,
    )
    return account_access(base, directory, facts)


@dataclass(slots=True)
class _DirectorySeen:
    """What the directory's pages showed that the roles phase needs (few accounts)."""

    site_admin_candidates: set[str] = field(default_factory=set)
    first_with_access: str | None = None
    several: list[str] = field(default_factory=list)  # accounts in several directories

    def add(self, users: list[DirectoryUser], facts: RoleFacts) -> None:
        for u in users:
            if ORG_ADMIN in u.platform_roles:
                facts.org_admins.add(u.account_id)
            elif SITE_ADMIN in u.platform_roles:
                self.site_admin_candidates.add(u.account_id)  # of this site, or another
            if u.site_access and self.first_with_access is None:
                self.first_with_access = u.account_id


async def _merged(
    members: AsyncIterator[tuple[str, list[str]]], holders: AsyncIterator[str]
) -> AsyncGenerator[tuple[str, list[str]], None]:
    """Group members (with their groups) and the directory's access holders (with none),
    both in account id order, merged into one stream in that order without repeats."""
    member = await anext(members, None)
    holder = await anext(holders, None)
    while member is not None or holder is not None:
        if holder is None or (member is not None and member[0] <= holder):
            assert member is not None
            if member[0] == holder:
                holder = await anext(holders, None)
            yield member
            member = await anext(members, None)
        else:
            yield holder, []
            holder = await anext(holders, None)


async def _batches(
    accounts: AsyncIterator[tuple[str, list[str]]], size: int
) -> AsyncIterator[dict[str, list[str]]]:
    """Consecutive batches of ``size`` accounts (id → group names), in the source's order."""
    batch: dict[str, list[str]] = {}
    async for account_id, groups in accounts:
        batch[account_id] = groups
        if len(batch) == size:
            yield batch
            batch = {}
    if batch:
        yield batch
