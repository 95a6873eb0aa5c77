"""The organization's current accounts, people and identities, read through caches.

Every consumer that needs the whole population (identity resolution, the access checks,
the classification filter of ``accounts``) reads it here, so a change made through the API
costs one revision read per collection instead of a full scan (ADR 005).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from services.identity.caches import RevisionedCache, SnapshotAccountCache, SnapshotAccounts
from services.identity.models import Identity
from services.integrations.models import Integration, Purpose
from services.models import RevisionState
from services.people.models import Person
from services.sync.models import SnapshotAccount
from services.sync.reads import SnapshotReader


@dataclass(frozen=True)
class CurrentAccounts:
    """The ACCESS_REVIEW integration (if any) and its current snapshot's accounts."""

    integration: Integration | None
    snapshot: SnapshotAccounts | None

    @property
    def accounts(self) -> tuple[SnapshotAccount, ...]:
        """The accounts (none without a snapshot)."""
        return self.snapshot.accounts if self.snapshot else ()


class PeopleRepo(Protocol):
    """The ``PeopleRepository`` methods ``Directory`` calls."""

    async def list_changed(
        self, *, organization_id: str, after_seq: int
    ) -> list[tuple[int, Person]]: ...
    async def list_current(self, *, organization_id: str) -> list[tuple[int, Person]]: ...
    async def revision(self, *, organization_id: str) -> RevisionState: ...


class IdentitiesRepo(Protocol):
    """The ``IdentityRepository`` methods ``Directory`` calls."""

    async def list_changed(
        self, *, organization_id: str, after_seq: int
    ) -> list[tuple[int, Identity]]: ...
    async def list_current(self, *, organization_id: str) -> list[tuple[int, Identity]]: ...
    async def revision(self, *, organization_id: str) -> RevisionState: ...


class SnapshotQueriesRepo(Protocol):
    """The ``SnapshotQueryRepository`` methods ``Directory`` calls."""

    def iter_accounts(self, *, snapshot_id: str) -> AsyncIterator[SnapshotAccount]: ...


class Directory:
    """Cached reads of an organization's accounts, people and identities."""

    def __init__(
        self,
        reader: SnapshotReader,
        *,
        people: PeopleRepo,
        identities: IdentitiesRepo,
        snapshot_queries: SnapshotQueriesRepo,
        max_age: timedelta,
    ) -> None:
        self._snapshot_queries = snapshot_queries
        self._reader = reader
        self._snapshots = SnapshotAccountCache(self._load_snapshot)
        self._people: RevisionedCache[str, Person] = RevisionedCache(
            revision=lambda org: people.revision(organization_id=org),
            changed=lambda org, seq: people.list_changed(organization_id=org, after_seq=seq),
            current=lambda org: people.list_current(organization_id=org),
            key=lambda p: p.id,
            max_age=max_age,
        )
        self._identities: RevisionedCache[str, Identity] = RevisionedCache(
            revision=lambda org: identities.revision(organization_id=org),
            changed=lambda org, seq: identities.list_changed(organization_id=org, after_seq=seq),
            current=lambda org: identities.list_current(organization_id=org),
            key=lambda i: i.account_id,
            max_age=max_age,
        )

    async def current_accounts(self, organization_id: str) -> CurrentAccounts:
        """The current ACCESS_REVIEW snapshot's accounts."""
        integration = await self._reader.integration_for(organization_id, Purpose.ACCESS_REVIEW)
        snapshot_id = integration.current_snapshot_id if integration else None
        if snapshot_id is None:
            return CurrentAccounts(integration, None)
        return CurrentAccounts(integration, await self._snapshots.get(snapshot_id))

    async def people(self, organization_id: str) -> Mapping[str, Person]:
        """The organization's people by id (read-only; the same object until one changes)."""
        return await self._people.get(organization_id)

    async def identities(self, organization_id: str) -> Mapping[str, Identity]:
        """The organization's stored identities by account id (absent means UNIDENTIFIED;
        read-only, the same object until one changes)."""
        return await self._identities.get(organization_id)

    def people_changes(
        self, organization_id: str, before: Mapping[str, Person], after: Mapping[str, Person]
    ) -> frozenset[str] | None:
        """The ids of the people that may differ between two maps ``people`` returned (None:
        cannot be told; treat everything as changed)."""
        return self._people.changes(organization_id, before, after)

    def identity_changes(
        self, organization_id: str, before: Mapping[str, Identity], after: Mapping[str, Identity]
    ) -> frozenset[str] | None:
        """The account ids whose identities may differ between two maps ``identities``
        returned (None: cannot be told)."""
        return self._identities.changes(organization_id, before, after)

    def people_written(
        self, organization_id: str, written: Iterable[tuple[int, Person]], first: int
    ) -> None:
        """Tell the cache about people this process just wrote."""
        self._people.apply(organization_id, written, first=first)

    def identities_written(
        self, organization_id: str, written: Iterable[tuple[int, Identity]], first: int
    ) -> None:
        """Tell the cache about identities this process just wrote."""
        self._identities.apply(organization_id, written, first=first)

    async def _load_snapshot(self, snapshot_id: str) -> list[SnapshotAccount]:
        queries = self._snapshot_queries
        return [a async for a in queries.iter_accounts(snapshot_id=snapshot_id)]
