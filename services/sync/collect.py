"""What a run collects, as declarative streams (SPEC §3.1), written into its snapshot.

ACCESS_REVIEW: the Admin API directory (when an admin key is set: one chain of cursor pages)
runs alongside groups → members of every group; then users-bulk for the deduplicated account
ids in batches of 250. The account ids and their groups come from ONE sorted read of the
snapshot's memberships (in account id order), each batch assembled with its directory facts
(looked up by key) into complete accounts, each written once. All requests of the run share
``concurrency`` slots; the directory holds one of them for its whole chain (it is the longest
chain of pages that must be fetched one after another, so it never waits for a slot).
POLICY: one CQL search with bodies, versions, labels and history expanded inline.

Memory: only the group list and the batches in flight are held; members, directory users,
accounts and pages go to the store page by page.

The client's results (``services/confluence/models.py``) stop here: each page is mapped to the
snapshot's domain models (``SnapshotGroup``, ``DirectoryEntry``, ``SnapshotAccount``,
``SnapshotPage``) before it is written, so the store and the resolvers never see them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Protocol

from services.atlassian.admin import AdminClient
from services.confluence import paths
from services.confluence.client import MAX_BULK_IDS, ConfluenceClient
from services.confluence.models import BulkUser, DirectoryUser, Group, Member, Page, ResultPage
from services.integrations.models import Integration, Purpose
from services.models import AccountStatus, AccountType
from services.sync.connector import Connector
from services.sync.models import (
    DirectoryEntry,
    Grant,
    GrantSource,
    Phase,
    SnapshotAccount,
    SnapshotGroup,
    SnapshotPage,
    SnapshotScope,
)
from services.sync.pager import Stream, first_error, run_stream, run_streams
from services.sync.progress import ProgressTracker

SEARCH_PAGE_SIZE = 50


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
    async def insert_accounts(
        self, scope: SnapshotScope, accounts: Sequence[SnapshotAccount]
    ) -> None: ...
    async def upsert_pages(self, scope: SnapshotScope, pages: Sequence[SnapshotPage]) -> None: ...


@dataclass
class Collection:
    """One run's collection: its connector, its snapshot, its progress."""

    integration: Integration
    connector: Connector
    data: CollectionDataRepo
    scope: SnapshotScope
    progress: ProgressTracker
    concurrency: int = 8
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
        try:
            async with asyncio.TaskGroup() as tasks:
                directory = tasks.create_task(self._directory()) if self._has_admin else None
                groups = await self._groups()
                await self._members(groups)
                if directory is not None:
                    # whatever of the directory's chain is left after the members
                    await self.progress.enter(Phase.DIRECTORY)
                    await directory
        except BaseExceptionGroup as grouped:
            raise first_error(grouped) from None
        await self._users()

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

    async def _directory(self) -> None:
        """The Admin API directory: holds one request slot until its last page is stored."""
        admin, org_id = self.connector.admin, self.connector.admin_org_id
        assert admin is not None and org_id
        async with self._slots:
            await self._fetch_directory(admin, org_id)

    async def _fetch_directory(self, admin: AdminClient, org_id: str) -> None:
        cloud_id = await self._cloud_id()

        async def fetch(cursor: str | None) -> ResultPage[DirectoryUser]:
            return await admin.search_directory_users(org_id, cursor, cloud_id=cloud_id)

        async def sink(items: list[DirectoryUser]) -> None:
            await self.data.insert_directory(self.scope, [directory_entry(u) for u in items])

        stream = Stream(paths.ADMIN_DIRECTORY_USERS_SEARCH, fetch, sink)
        await run_stream(stream, self.progress)

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

    async def _users(self) -> None:
        await self.progress.enter(Phase.USERS)
        admin_groups = {g.casefold() for g in self.integration.admin_groups}

        def stream(groups: dict[str, list[str]]) -> Stream[BulkUser]:
            batch = list(groups)

            async def fetch(cursor: str | None) -> ResultPage[BulkUser]:
                return ResultPage(await self.confluence.users_bulk(batch), None)

            async def sink(items: list[BulkUser]) -> None:
                directory = await self.data.directory_of(self.scope, batch)
                users = {u.account_id: u for u in items}
                accounts = [
                    assemble(a, users.get(a), groups.get(a, []), directory.get(a), admin_groups)
                    for a in batch
                ]
                await self.data.insert_accounts(self.scope, accounts)

            return Stream(paths.USERS_BULK, fetch, sink)

        async def streams() -> AsyncGenerator[Stream[BulkUser], None]:
            async with aclosing(self.data.memberships_by_account(self.scope)) as accounts:
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
    return SnapshotGroup(group_id=group.id, name=group.name)


def directory_entry(user: DirectoryUser) -> DirectoryEntry:
    """What the snapshot keeps of a directory user (status, MFA, last activity)."""
    return DirectoryEntry(
        account_id=user.account_id,
        account_status=user.account_status,
        mfa_enabled=user.mfa_enabled,
        last_active=user.last_active,
    )


def snapshot_page(page: Page) -> SnapshotPage:
    """A page found by the integration's CQL, as the snapshot keeps it."""
    return SnapshotPage(
        page_id=page.id,
        title=page.title,
        status=page.status,
        space_key=page.space_key,
        space_name=page.space_name,
        version=page.version_number,
        last_modified_at=page.last_modified_at,
        last_modified_by=page.last_modified_by,
        created_at=page.created_at,
        created_by=page.created_by,
        labels=page.labels,
        web_url=page.web_url,
        body_storage=page.body_storage,
    )


def assemble(
    account_id: str,
    user: BulkUser | None,
    groups: list[str],
    directory: DirectoryEntry | None,
    admin_groups: set[str],
) -> SnapshotAccount:
    """One account of the snapshot from users-bulk, its groups and the directory.

    The directory's status is authoritative when it knows one; MFA and last active come only
    from the directory; admin means membership of one of the integration's admin groups.
    """
    status = user.account_status if user else AccountStatus.UNKNOWN
    if directory is not None and directory.account_status is not AccountStatus.UNKNOWN:
        status = directory.account_status
    names = tuple(sorted(groups))
    return SnapshotAccount(
        account_id=account_id,
        display_name=(user.display_name or None) if user else None,
        email=user.email if user else None,
        account_type=user.account_type if user else AccountType.UNKNOWN,
        account_status=status,
        mfa_enabled=directory.mfa_enabled if directory else None,
        groups=names,
        last_active_at=directory.last_active if directory else None,
        access_via=tuple(Grant.via_group(g, GrantSource.GROUP_MEMBERSHIP) for g in names),
        admin_via=tuple(
            Grant.via_group(g, GrantSource.ADMIN_GROUPS_SETTING)
            for g in names
            if g.casefold() in admin_groups
        ),
    )


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
