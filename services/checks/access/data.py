"""What the access checks read: one organization's access data at one instant (immutable)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property

from services.checks.access.changes import DataVersion
from services.checks.access.population import build_population
from services.checks.base import Population
from services.checks.scopes import scope
from services.identity.models import Classification, Identity, unidentified
from services.integrations.models import CurrentSnapshot, Integration
from services.people.models import Person
from services.reviews.models import AccessReview, CompletedDecisions, CriticalSystem
from services.sync.models import SnapshotAccount

ACCESS = "access"
# Inputs of the access data a change can touch alone (``services.checks.scopes``); the
# snapshot and the critical system concern every access check (a change re-evaluates ACCESS).
PEOPLE_INPUT, IDENTITIES_INPUT, REVIEWS_INPUT = "people", "identities", "reviews"
PEOPLE = scope(ACCESS, PEOPLE_INPUT)
IDENTITIES = scope(ACCESS, IDENTITIES_INPUT)
REVIEWS = scope(ACCESS, REVIEWS_INPUT)
GRACE_PERIOD = timedelta(hours=24)
GROUPS_ONLY_NOTE = (
    "access measured through group membership only; add an Admin API key to see direct grants"
)
STALE_AFTER_INTERVALS = 3


@dataclass(frozen=True, slots=True)
class SnapshotFacts:
    """What the checks need to know of a snapshot as a whole (computed once per snapshot)."""

    groups_only: bool  # no account the Admin API's directory listed
    mfa_unknown: bool  # no account with a known MFA status


def facts_of(accounts: tuple[SnapshotAccount, ...]) -> SnapshotFacts:
    """The facts of a snapshot's accounts (one pass)."""
    return SnapshotFacts(
        groups_only=not any(a.directory_status is not None for a in accounts),
        mfa_unknown=all(a.mfa_enabled is None for a in accounts),
    )


@dataclass(frozen=True)
class AccessData(CurrentSnapshot):
    """Confluence as a critical system, its current snapshot, people, identities, reviews.

    ``identities`` holds stored identities by account id (a missing one is UNIDENTIFIED),
    ``people`` people by id, ``completed_review`` the decisions of the system's latest
    completed review, ``open_review`` its open review.
    """

    now: datetime
    system: CriticalSystem | None
    integration: Integration | None
    accounts: tuple[SnapshotAccount, ...] = ()
    identities: Mapping[str, Identity] = field(default_factory=dict)
    people: Mapping[str, Person] = field(default_factory=dict)
    completed_review: CompletedDecisions | None = None
    open_review: AccessReview | None = None
    grace_period: timedelta = GRACE_PERIOD
    stale_after_intervals: int = STALE_AFTER_INTERVALS
    # The population of these accounts and identities when the loader already has it
    # (``PopulationCache``); built from them otherwise.
    known_population: Population | None = field(default=None, compare=False, repr=False)
    # Set by the loader: which load this is (for ``changed_accounts``), the accounts by id and
    # the snapshot's facts; derived from the data otherwise.
    version: DataVersion | None = field(default=None, compare=False, repr=False)
    known_accounts_by_id: Mapping[str, SnapshotAccount] | None = field(
        default=None, compare=False, repr=False
    )
    known_facts: SnapshotFacts | None = field(default=None, compare=False, repr=False)

    @cached_property
    def facts(self) -> SnapshotFacts:
        """The snapshot's facts (``SnapshotFacts``)."""
        return self.known_facts if self.known_facts is not None else facts_of(self.accounts)

    @property
    def groups_only(self) -> bool:
        """Access was measured through group membership only: the snapshot has no account
        the Admin API's directory listed (no key when it was collected), so direct grants,
        roles and suspensions are out of sight."""
        return self.facts.groups_only

    @cached_property
    def accounts_by_id(self) -> Mapping[str, SnapshotAccount]:
        """The snapshot's accounts by account id."""
        if self.known_accounts_by_id is not None:
            return self.known_accounts_by_id
        return {a.account_id: a for a in self.accounts}

    def changed_accounts(self, since: DataVersion | None) -> frozenset[str] | None:
        """The accounts whose inputs (the account, its identity, its person) may differ
        from the data of version ``since``; None when that cannot be told (another snapshot,
        rule or review; no version) — then every account may have."""
        if self.version is None:
            return None
        return self.version.changed_since(since)

    def identity(self, account_id: str) -> Identity:
        """The account's identity (UNIDENTIFIED when none is stored)."""
        return self.identities.get(account_id) or unidentified(account_id)

    def person_of(self, identity: Identity) -> Person | None:
        """The person a STAFF identity links to."""
        if identity.classification is not Classification.STAFF or identity.person_id is None:
            return None
        return self.people.get(identity.person_id)

    @cached_property
    def population(self) -> Population:
        """Every account evaluated with its identity (shared by the access checks)."""
        if self.known_population is not None:
            return self.known_population
        return build_population(self.accounts, self.identities)
