"""Loading ``AccessData`` for one organization: indexed reads and caches, no Confluence.

Each load also says which accounts' inputs changed since the load before
(``services.checks.access.changes``): within one *lineage* — the same snapshot, critical
system and completed review — the accounts whose identity changed (the directory's cache
tells which keys a change touched) and the accounts of the people who changed (an index of
accounts by person, kept from the identities). A new lineage starts a new log.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from services.checks.access.changes import ChangeLog, DataVersion
from services.checks.access.data import GRACE_PERIOD, AccessData, SnapshotFacts, facts_of
from services.checks.access.population import PopulationCache
from services.identity.directory import Directory
from services.identity.models import Identity
from services.people.models import Person
from services.reviews.models import (
    AccessDecision,
    AccessReview,
    CompletedDecisions,
    CriticalSystem,
    SystemKind,
)
from services.sync.models import SnapshotAccount


class CriticalSystemsRepo(Protocol):
    """The ``CriticalSystemRepository`` methods ``AccessDataSource`` calls."""

    async def get_by_kind(
        self, *, organization_id: str, system: SystemKind
    ) -> CriticalSystem | None: ...


class AccessReviewsRepo(Protocol):
    """The ``AccessReviewRepository`` methods ``AccessDataSource`` calls."""

    async def decisions(self, *, review_id: str) -> dict[str, AccessDecision]: ...
    async def get_open(
        self, *, organization_id: str, critical_system_id: str
    ) -> AccessReview | None: ...
    async def latest_completed(
        self, *, organization_id: str, critical_system_id: str
    ) -> AccessReview | None: ...


@dataclass
class _Lineage:
    """What the last load of an organization's access data was, to tell what the next one
    changed: its inputs, the log of changes, facts and the accounts of each person."""

    log: ChangeLog
    accounts: tuple[SnapshotAccount, ...]
    system: CriticalSystem | None
    completed: CompletedDecisions | None
    identities: Mapping[str, Identity]
    people: Mapping[str, Person]
    facts: SnapshotFacts
    # person id → the account id (or ids) whose identity names that person
    by_person: dict[str, str | tuple[str, ...]]


def _by_person(identities: Mapping[str, Identity]) -> dict[str, str | tuple[str, ...]]:
    found: dict[str, str | tuple[str, ...]] = {}
    for account_id, identity in identities.items():
        if identity.person_id is not None:
            _link(found, identity.person_id, account_id)
    return found


def _link(index: dict[str, str | tuple[str, ...]], person_id: str, account_id: str) -> None:
    held = index.get(person_id)
    if held is None:
        index[person_id] = account_id
    elif isinstance(held, str):
        if held != account_id:
            index[person_id] = (held, account_id)
    elif account_id not in held:
        index[person_id] = (*held, account_id)


def _unlink(index: dict[str, str | tuple[str, ...]], person_id: str, account_id: str) -> None:
    held = index.get(person_id)
    if held == account_id:
        del index[person_id]
    elif isinstance(held, tuple) and account_id in held:
        rest = tuple(a for a in held if a != account_id)
        index[person_id] = rest[0] if len(rest) == 1 else rest


def _accounts_of(index: dict[str, str | tuple[str, ...]], person_id: str) -> tuple[str, ...]:
    held = index.get(person_id)
    if held is None:
        return ()
    return (held,) if isinstance(held, str) else held


@dataclass(eq=False, repr=False)
class AccessDataSource:
    """The ``access`` data source of the check engine."""

    directory: Directory
    _: KW_ONLY
    critical_systems: CriticalSystemsRepo
    access_reviews: AccessReviewsRepo
    grace_period: timedelta = GRACE_PERIOD
    populations: PopulationCache = field(default_factory=PopulationCache)
    # A completed review never changes, so its decisions are read once.
    _decisions: OrderedDict[str, CompletedDecisions] = field(
        init=False, default_factory=OrderedDict
    )
    _lineages: OrderedDict[str, _Lineage] = field(init=False, default_factory=OrderedDict)

    async def load(self, organization_id: str, now: datetime) -> AccessData:
        """Confluence's critical system, current accounts, people, identities and reviews."""
        system = await self.critical_systems.get_by_kind(
            organization_id=organization_id, system=SystemKind.CONFLUENCE
        )
        current = await self.directory.current_accounts(organization_id)
        completed = open_review = None
        if system is not None:
            reviews = self.access_reviews
            latest = await reviews.latest_completed(
                organization_id=organization_id, critical_system_id=system.id
            )
            completed = await self._completed(latest) if latest else None
            open_review = await reviews.get_open(
                organization_id=organization_id, critical_system_id=system.id
            )
        identities = await self.directory.identities(organization_id)
        people = await self.directory.people(organization_id)
        lineage, changed = self._changes(
            organization_id, current.accounts, system, completed, identities, people
        )
        return AccessData(
            now=now,
            system=system,
            integration=current.integration,
            accounts=current.accounts,
            identities=identities,
            people=people,
            completed_review=completed,
            open_review=open_review,
            grace_period=self.grace_period,
            known_population=self.populations.population(
                organization_id, current.accounts, identities, changed=changed
            ),
            version=DataVersion(lineage.log, lineage.log.generation),
            known_accounts_by_id=current.snapshot.by_id if current.snapshot else {},
            known_facts=lineage.facts,
        )

    def _changes(
        self,
        organization_id: str,
        accounts: tuple[SnapshotAccount, ...],
        system: CriticalSystem | None,
        completed: CompletedDecisions | None,
        identities: Mapping[str, Identity],
        people: Mapping[str, Person],
    ) -> tuple[_Lineage, frozenset[str] | None]:
        """The organization's lineage after this load, logged; and the accounts whose
        identity changed (for the population; None: unknown)."""
        held = self._lineages.pop(organization_id, None)
        if (
            held is None
            or held.accounts is not accounts
            or held.system != system
            or held.completed is not completed
        ):
            same = held is not None and held.accounts is accounts
            lineage = _Lineage(
                log=ChangeLog(),
                accounts=accounts,
                system=system,
                completed=completed,
                identities=identities,
                people=people,
                facts=held.facts if held is not None and same else facts_of(accounts),
                by_person=_by_person(identities),
            )
            lineage.log.append(None)
            self._keep(organization_id, lineage)
            return lineage, None
        directory = self.directory
        identity_ids = directory.identity_changes(organization_id, held.identities, identities)
        person_ids = directory.people_changes(organization_id, held.people, people)
        changed: set[str] | None = None
        if identity_ids is None:
            held.by_person = _by_person(identities)
        else:
            for account_id in identity_ids:
                before, after = held.identities.get(account_id), identities.get(account_id)
                if before is not None and before.person_id is not None:
                    _unlink(held.by_person, before.person_id, account_id)
                if after is not None and after.person_id is not None:
                    _link(held.by_person, after.person_id, account_id)
            if person_ids is not None:
                changed = set(identity_ids)
                for person_id in person_ids:
                    changed.update(_accounts_of(held.by_person, person_id))
        held.log.append(frozenset(changed) if changed is not None else None)
        held.identities, held.people = identities, people
        self._keep(organization_id, held)
        return held, identity_ids

    def _keep(self, organization_id: str, lineage: _Lineage) -> None:
        self._lineages[organization_id] = lineage
        while len(self._lineages) > 64:
            self._lineages.popitem(last=False)

    async def _completed(self, review: AccessReview) -> CompletedDecisions:
        cached = self._decisions.get(review.id)
        if cached is None:
            assert review.completed_at is not None
            decisions = await self.access_reviews.decisions(review_id=review.id)
            cached = CompletedDecisions(review.id, review.completed_at, decisions)
            self._decisions[review.id] = cached
            while len(self._decisions) > 64:
                self._decisions.popitem(last=False)
        return cached
