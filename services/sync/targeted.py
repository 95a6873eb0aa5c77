"""A TARGETED run: re-read only what events named, and make a new snapshot equal to what a
full sync would make (ADR 020).

The run refreshes the accounts and groups its targets name on top of the current snapshot:

- a group: its member pages (and the group list, for its name) — the members that joined or
  left become accounts to re-read; a group the snapshot does not know yet is read whole;
- an account: its groups (``GET /wiki/rest/api/user/memberof``), ``users-bulk``, the directory
  search with ``accountIds`` (``productAccess``, ``platformRoles``) and the role-filtered search
  with ``accountIds`` (product admins) — four requests for one account, batched for many —
  and its role assignments where a full sync reads them (admins, site-admin candidates).

Then it judges them exactly as ``Collection`` does (``services.sync.access`` with the facts the
last full sync kept: group tallies, role facts, site facts), updates the tallies of the groups
they are in, and re-judges the members of any group whose verdict changed. What it writes is
a *layer* over the last full snapshot (``SnapshotManifest``): the documents of what changed
since that sync, never a copy of the base.

Where a targeted run cannot be exact it says so with ``NeedsFullSync`` and the runner turns it
into a full one: no facts kept by the current snapshot (older than this module, or synced
without a key), several directories (per-directory suspension needs reads ordered like a full
sync's), role-assignment reads beyond the full sync's bound, or a layer grown past
``max_layer`` accounts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from typing import Protocol, TypeVar

from services.atlassian.admin import MAX_DIRECTORY_PAGE, PLATFORM_ROLES, PRODUCT_ACCESS
from services.confluence import paths
from services.confluence.client import MAX_BULK_IDS, ConfluenceClient
from services.confluence.errors import ConfluenceNotFound
from services.confluence.models import (
    BulkUser,
    DirectoryUser,
    Group,
    Member,
    ResultPage,
    RoleAssignment,
)
from services.integrations.models import Integration
from services.sync.access import (
    ADMIN,
    ORG_ADMIN,
    SITE_ADMIN,
    AccountRoles,
    GroupTally,
    RoleFacts,
    account_access,
    confluence_resource,
)
from services.sync.collect import assemble, directory_entry, snapshot_group
from services.sync.connector import Connector
from services.sync.models import (
    AccountFacts,
    DirectoryEntry,
    LayerWrite,
    Phase,
    RunTargets,
    SiteFacts,
    SnapshotAccount,
    SnapshotCounts,
    SnapshotGroup,
    SnapshotManifest,
    SnapshotScope,
    StoredGroup,
    TallyCounts,
)
from services.sync.pager import Stream, run_stream, run_streams
from services.sync.progress import ProgressTracker

T = TypeVar("T")

MAX_LAYER = 2000  # accounts a layer may hold before a full sync is cheaper (a setting)
MAX_ROUNDS = 5  # new groups found through memberof, read in at most this many rounds


class NeedsFullSync(Exception):
    """A targeted run cannot make an exact snapshot: the runner runs a full sync instead."""


class RefreshDataRepo(Protocol):
    """The ``SnapshotRefreshRepository`` methods ``TargetedRefresh`` calls."""

    async def manifest(self, snapshot_id: str) -> SnapshotManifest | None: ...
    async def accounts(
        self, snapshot_id: str, account_ids: Collection[str]
    ) -> dict[str, SnapshotAccount]: ...
    async def directory(
        self, snapshot_id: str, account_ids: Collection[str]
    ) -> dict[str, DirectoryEntry]: ...
    async def memberships(
        self, snapshot_id: str, account_ids: Collection[str]
    ) -> dict[str, list[SnapshotGroup]]: ...
    async def groups(self, snapshot_id: str) -> list[StoredGroup]: ...
    async def members(self, snapshot_id: str, group_names: Collection[str]) -> set[str]: ...
    async def write_layer(self, layer: LayerWrite) -> SnapshotCounts: ...


@dataclass(slots=True)
class _Read:
    """What Atlassian said of one re-read account."""

    groups: list[Group] = field(default_factory=list)
    user: BulkUser | None = None
    directory: DirectoryUser | None = None
    product_admin: bool = False
    roles: list[RoleAssignment] | None = None


@dataclass
class TargetedRefresh:
    """One TARGETED run's work on top of snapshot ``previous_id``."""

    integration: Integration
    connector: Connector
    data: RefreshDataRepo
    scope: SnapshotScope
    progress: ProgressTracker
    previous_id: str
    targets: RunTargets
    role_reads: int
    max_layer: int = MAX_LAYER
    concurrency: int = 8
    # The processing time of the last audit event the run applies (kept in the manifest).
    events_until: datetime | None = None

    async def run(self) -> SnapshotCounts:
        """Refresh, judge and write the layer; the new snapshot's counts."""
        manifest = await self.data.manifest(self.previous_id)
        if manifest is None or manifest.facts is None:
            raise NeedsFullSync(
                "the current snapshot was made without the facts a targeted refresh needs"
            )
        facts = manifest.facts
        if not facts.single_directory:
            raise NeedsFullSync("the organization has several directories")
        if self.connector.admin is None or not self.connector.admin_org_id:
            raise NeedsFullSync("no Admin API key")
        known = {g.group.group_id: g for g in await self.data.groups(self.previous_id)}
        reads, listed, handled = await self._read(facts, known)
        return await self._judge_and_write(manifest, facts, known, reads, listed, handled)

    # ----- reading ---------------------------------------------------------------------

    async def _read(
        self, facts: SiteFacts, known: dict[str, StoredGroup]
    ) -> tuple[dict[str, _Read], dict[str, Group] | None, set[str]]:
        """Re-read the targets: named groups (and groups memberof shows that the snapshot does
        not know, or knows by another name) member by member, then every account to re-read.
        Returns the reads, the group list (when read) and the groups re-read."""
        reads: dict[str, _Read] = {}
        groups = list(self.targets.groups)
        accounts = list(self.targets.accounts)
        listed: dict[str, Group] | None = None
        handled = set(groups)
        for _ in range(MAX_ROUNDS):
            if groups:
                if listed is None:
                    listed = await self._group_list()
                accounts += await self._group_changes(groups, known, listed)
            todo = sorted({a for a in accounts if a not in reads})
            if not todo:
                break
            self._bounded(len(reads) + len(todo))
            fresh = await self._read_accounts(todo, facts)
            reads.update(fresh)
            seen = {g.id: g.name for r in fresh.values() for g in r.groups}
            new = {
                gid
                for gid, name in seen.items()
                if gid not in handled and (gid not in known or known[gid].group.name != name)
            }
            handled |= new
            groups, accounts = sorted(new), []
            if not groups:
                break
        else:
            raise NeedsFullSync("groups kept appearing while refreshing")
        return reads, listed, handled

    async def _group_list(self) -> dict[str, Group]:
        await self.progress.enter(Phase.GROUPS)
        found: dict[str, Group] = {}

        async def fetch(cursor: str | None) -> ResultPage[Group]:
            return await self.confluence.list_groups(cursor)

        async def sink(items: list[Group]) -> None:
            found.update((g.id, g) for g in items)

        await run_stream(Stream(paths.GROUPS, fetch, sink), self.progress)
        return found

    async def _group_changes(
        self, group_ids: Sequence[str], known: dict[str, StoredGroup], listed: dict[str, Group]
    ) -> list[str]:
        """The accounts whose membership of ``group_ids`` may differ from the snapshot's: the
        members that joined or left, every member of a renamed, new or deleted group."""
        await self.progress.enter(Phase.MEMBERS)
        now: dict[str, set[str]] = {g: set() for g in group_ids if g in listed}

        def stream(group_id: str) -> Stream[Member]:
            async def fetch(cursor: str | None) -> ResultPage[Member]:
                return await self.confluence.list_group_members(group_id, cursor)

            async def sink(items: list[Member]) -> None:
                now[group_id].update(m.account_id for m in items)

            return Stream(paths.GROUP_MEMBERS, fetch, sink)

        await run_streams((stream(g) for g in now), self.progress, concurrency=self.concurrency)
        changed: set[str] = set()
        for group_id in group_ids:
            before = known.get(group_id)
            was = (
                await self.data.members(self.previous_id, [before.group.name])
                if before is not None
                else set()
            )
            members = now.get(group_id, set())
            same_name = (
                before is not None
                and group_id in listed
                and (listed[group_id].name == before.group.name)
            )
            changed |= (was ^ members) if same_name else (was | members)
        return sorted(changed)

    async def _read_accounts(self, account_ids: list[str], facts: SiteFacts) -> dict[str, _Read]:
        """memberof, users-bulk, the directory and the product-admin search for
        ``account_ids``; then the role assignments of those a full sync reads."""
        await self.progress.enter(Phase.USERS)
        reads = {a: _Read() for a in account_ids}
        admin, org_id = self.connector.admin, self.connector.admin_org_id
        assert admin is not None and org_id
        cloud_id = facts.cloud_id

        def member_of(account_id: str) -> Stream[Group]:
            async def fetch(cursor: str | None) -> ResultPage[Group]:
                try:
                    return await self.confluence.member_of(account_id, cursor)
                except ConfluenceNotFound:  # the site does not know it: in no group
                    return ResultPage([], None)

            async def sink(items: list[Group]) -> None:
                reads[account_id].groups.extend(items)

            return Stream(paths.USER_MEMBER_OF, fetch, sink)

        def bulk(batch: list[str]) -> Stream[BulkUser]:
            async def fetch(cursor: str | None) -> ResultPage[BulkUser]:
                return ResultPage(await self.confluence.users_bulk(batch), None)

            async def sink(items: list[BulkUser]) -> None:
                for u in items:
                    if u.account_id in reads:
                        reads[u.account_id].user = u

            return Stream(paths.USERS_BULK, fetch, sink)

        def directory_search(
            fetch: Callable[[str | None], Awaitable[ResultPage[DirectoryUser]]],
            record: Callable[[_Read, DirectoryUser], None],
        ) -> Stream[DirectoryUser]:
            async def sink(items: list[DirectoryUser]) -> None:
                for u in items:
                    if u.account_id in reads:
                        record(reads[u.account_id], u)

            return Stream(paths.ADMIN_DIRECTORY_USERS_SEARCH, fetch, sink)

        def directory(batch: list[str]) -> Stream[DirectoryUser]:
            fetch = partial(
                admin.search_directory_users,
                org_id,
                cloud_id=cloud_id,
                expand=(PRODUCT_ACCESS, PLATFORM_ROLES),
                account_ids=batch,
            )
            return directory_search(fetch, _found_in_directory)

        def product_admins(batch: list[str]) -> Stream[DirectoryUser]:
            fetch = partial(
                admin.search_directory_users,
                org_id,
                expand=(),
                role_ids=(ADMIN,),
                resource_ids=(confluence_resource(cloud_id),),
                account_ids=batch,
            )
            return directory_search(fetch, _found_product_admin)

        streams: list[Stream[object]] = [member_of(a) for a in account_ids]  # type: ignore[misc]
        streams += [bulk(b) for b in _chunks(account_ids, MAX_BULK_IDS)]  # type: ignore[misc]
        for b in _chunks(account_ids, MAX_DIRECTORY_PAGE):
            streams += [directory(b), product_admins(b)]  # type: ignore[list-item]
        await run_streams(streams, self.progress, concurrency=self.concurrency)
        wanted = [a for a, r in reads.items() if _account_facts(r).wanted]
        if wanted:
            await self.progress.enter(Phase.ROLES)
            await self._read_roles(wanted, reads)
        return reads

    async def _read_roles(self, account_ids: list[str], reads: dict[str, _Read]) -> None:
        admin, org_id = self.connector.admin, self.connector.admin_org_id
        assert admin is not None and org_id

        def stream(account_id: str) -> Stream[RoleAssignment]:
            found: list[RoleAssignment] = []
            reads[account_id].roles = found

            async def fetch(cursor: str | None) -> ResultPage[RoleAssignment]:
                return await admin.role_assignments(org_id, account_id, cursor)

            async def sink(items: list[RoleAssignment]) -> None:
                found.extend(items)

            return Stream(paths.ADMIN_ROLE_ASSIGNMENTS, fetch, sink)

        streams = (stream(a) for a in account_ids)
        await run_streams(streams, self.progress, concurrency=self.concurrency)

    # ----- judging and writing -----------------------------------------------------------

    async def _judge_and_write(
        self,
        manifest: SnapshotManifest,
        facts: SiteFacts,
        known: dict[str, StoredGroup],
        reads: dict[str, _Read],
        listed: dict[str, Group] | None,
        changed_groups: set[str],
    ) -> SnapshotCounts:
        await self.progress.enter(Phase.COMMITTING)
        previous = self.previous_id
        reread = sorted(reads)
        old_entries = await self.data.directory(previous, reread)
        old_groups = await self.data.memberships(previous, reread)

        # The snapshot's groups after the refresh: a named group may be renamed, new or gone
        # (only groups the targets or memberof named change; the rest are the snapshot's).
        groups: dict[str, SnapshotGroup] = {gid: g.group for gid, g in known.items()}
        if listed is not None:
            for gid in changed_groups:
                if gid in listed:
                    groups[gid] = snapshot_group(listed[gid])
                else:
                    groups.pop(gid, None)
        for r in reads.values():
            for g in r.groups:
                # memberof may not say who manages a group: keep what the snapshot knew.
                known_managed = groups[g.id].managed_by if g.id in groups else None
                groups[g.id] = replace(snapshot_group(g), managed_by=g.managed_by or known_managed)
        ids_by_name = {g.name: gid for gid, g in groups.items()}
        was_named = {g.group.name: g for g in known.values()}

        new_entries = {
            a: replace(directory_entry(r.directory), facts=_account_facts(r, facts.cloud_id))
            for a, r in reads.items()
            if r.directory is not None
        }
        new_groups = {
            a: sorted({g.name for g in r.groups if g.id in groups}) for a, r in reads.items()
        }
        wanted = (
            facts.wanted_reads
            - sum(1 for e in old_entries.values() if e.facts.wanted)
            + sum(1 for e in new_entries.values() if e.facts.wanted)
        )
        touches_wanted = any(e.facts.wanted for e in (*old_entries.values(), *new_entries.values()))
        if touches_wanted and (facts.reads_overflow or wanted > self.role_reads):
            raise NeedsFullSync(
                "more accounts need their role assignments read than a sync reads "
                f"(at most {self.role_reads})"
            )

        # Tallies (by group name, as a full sync counts them): each re-read account leaves its
        # old groups' counts and joins its new ones.
        tallies: dict[str, GroupTally] = {}

        def tally(name: str) -> GroupTally:
            if name not in tallies:
                stored = was_named.get(name)
                counts = stored.tally if stored is not None and stored.tally else TallyCounts()
                tallies[name] = GroupTally.of(counts)
            return tallies[name]

        before: dict[str, tuple[object, ...]] = {}
        for account_id in reread:
            was_in = [g.name for g in old_groups.get(account_id, [])]
            for name in {*was_in, *new_groups[account_id]}:
                before.setdefault(name, tally(name).verdicts())
            was, now = old_entries.get(account_id), new_entries.get(account_id)
            if was is not None:
                for name in was_in:
                    _count(tally(name), was, -1)
            if now is not None:
                for name in new_groups[account_id]:
                    _count(tally(name), now, +1)
        flipped = [name for name, v in before.items() if tally(name).verdicts() != v]
        rejudged = sorted(await self.data.members(previous, flipped) - set(reads))
        touched = set(manifest.accounts) | set(reread) | set(rejudged)
        self._bounded(len(touched))

        # Judge: the re-read accounts from what Atlassian said, the re-judged ones from what
        # the snapshot kept.
        kept_accounts = await self.data.accounts(previous, rejudged)
        kept_entries = await self.data.directory(previous, rejudged)
        kept_groups = await self.data.memberships(previous, rejudged)
        for name in ids_by_name:
            tally(name)  # every group is judged from its counts (none kept: nobody listed)
        role_facts = RoleFacts(
            facts.cloud_id,
            admin_groups=frozenset(g.casefold() for g in self.integration.admin_groups),
            group_ids=ids_by_name,
            has_directory=True,
            site_directory=facts.site_directory,
            single_directory=True,
            tallies=tallies,
        )
        for kept_entry in (*new_entries.values(), *kept_entries.values()):
            _add_facts(role_facts, kept_entry)

        accounts: list[SnapshotAccount] = []
        directory: list[DirectoryEntry] = []
        memberships: list[tuple[str, SnapshotGroup]] = []
        for account_id in reread:
            r = reads[account_id]
            entry: DirectoryEntry | None = new_entries.get(account_id)
            names = new_groups[account_id]
            if not names and not (entry is not None and entry.site_access):
                continue  # in no group and without access: a full sync would not list it
            accounts.append(assemble(account_id, r.user, names, entry, role_facts))
            if entry is not None:
                directory.append(entry)
            memberships += [(account_id, groups[g.id]) for g in _unique(r.groups) if g.id in groups]
        for account_id in rejudged:
            kept = kept_accounts.get(account_id)
            if kept is None:
                continue
            entry = kept_entries.get(account_id)
            cleared = replace(
                kept,
                access_via=(),
                admin_via=(),
                directory_status=None,
                directory_id=None,
                claim_status=None,
            )
            accounts.append(account_access(cleared, entry, role_facts))
            if entry is not None:
                directory.append(entry)
            memberships += [(account_id, g) for g in kept_groups.get(account_id, [])]

        # The group documents that change: named, new, gone, or re-counted.
        for gid, group in groups.items():
            stored = known.get(gid)
            now_counts = tallies[group.name].counts()
            if (
                stored is None
                or stored.group.name != group.name
                or (stored.tally or TallyCounts()) != now_counts
            ):
                changed_groups.add(gid)
        stored_groups = [
            StoredGroup(groups[gid], tallies[groups[gid].name].counts())
            for gid in sorted(changed_groups)
            if gid in groups
        ]
        new_manifest = SnapshotManifest(
            snapshot_id=self.scope.snapshot_id,
            base_id=manifest.base_id or manifest.snapshot_id,
            accounts=tuple(sorted(touched)),
            groups=tuple(sorted(set(manifest.groups) | changed_groups)),
            facts=replace(facts, wanted_reads=wanted),
            events_until=self.events_until,
        )
        return await self.data.write_layer(
            LayerWrite(
                scope=self.scope,
                manifest=new_manifest,
                previous_id=previous,
                changed_accounts=tuple(sorted({*reread, *rejudged})),
                changed_groups=tuple(sorted(changed_groups)),
                accounts=tuple(accounts),
                directory=tuple(directory),
                memberships=tuple(memberships),
                groups=tuple(stored_groups),
            )
        )

    def _bounded(self, accounts: int) -> None:
        if accounts > self.max_layer:
            raise NeedsFullSync(
                f"{accounts} accounts changed since the last full sync (a layer holds at most "
                f"{self.max_layer})"
            )

    @property
    def confluence(self) -> ConfluenceClient:
        """The run's Confluence client."""
        return self.connector.confluence


def _account_facts(read: _Read, cloud_id: str = "") -> AccountFacts:
    """The role facts a full sync would keep for a re-read account."""
    user = read.directory
    if user is None:  # the directory does not list it: no role facts (as in a full sync)
        return AccountFacts()
    org_admin = ORG_ADMIN in user.platform_roles
    candidate = not org_admin and SITE_ADMIN in user.platform_roles
    roles = AccountRoles.of(read.roles, cloud_id) if read.roles is not None else None
    return AccountFacts(
        product_admin=read.product_admin,
        org_admin=org_admin,
        site_admin_candidate=candidate,
        site_admin=candidate and (roles is None or SITE_ADMIN in roles.methods),
        read=roles.to_read() if roles is not None else None,
    )


def _found_in_directory(read: _Read, user: DirectoryUser) -> None:
    """The directory search listed the account: its directory user."""
    read.directory = user


def _found_product_admin(read: _Read, user: DirectoryUser) -> None:
    """The product-admin search listed the account: it is a product admin."""
    read.product_admin = True


def _add_facts(facts: RoleFacts, entry: DirectoryEntry) -> None:
    """An account's kept role facts into the run's ``RoleFacts``."""
    f, account_id = entry.facts, entry.account_id
    if f.product_admin:
        facts.product_admins.add(account_id)
    if f.org_admin:
        facts.org_admins.add(account_id)
    if f.site_admin:
        facts.site_admins.add(account_id)
    if f.read is not None:
        facts.reads[account_id] = AccountRoles.from_read(f.read)


def _count(tally: GroupTally, entry: DirectoryEntry, sign: int) -> None:
    """Add (or take away) one listed member's contribution to a group's tally."""
    tally.listed += sign
    tally.with_access += sign * entry.site_access
    tally.admins += sign * entry.facts.product_admin
    tally.site_admins += sign * entry.facts.site_admin


def _unique(groups: Iterable[Group]) -> list[Group]:
    return list({g.id: g for g in groups}.values())


def _chunks(items: Sequence[T], size: int) -> list[list[T]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


__all__ = ["MAX_LAYER", "NeedsFullSync", "RefreshDataRepo", "TargetedRefresh"]
