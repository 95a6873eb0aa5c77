"""The access checks' population, rebuilt only where accounts or identities changed.

Every evaluation of the access checks hands its population (every account of the current
snapshot with its identity) to evidence. ``PopulationCache`` keeps, per organization, the last
population and the identity each item was built with: when neither the snapshot's accounts
nor the identities map changed (maps from ``Directory`` are new objects only after a change),
the same ``Population`` object is returned; otherwise only the items of accounts whose
identity changed are rebuilt — those the loader says changed (``changed``), or, when it
cannot say, those whose identity object differs — and the others are the very same item
objects, which lets evidence keep the chunks cut from them
(``services.evidence.recorder.PopulationChunks``). An item is an ``AccountRow``: a read-only
mapping that reads its eleven values from the account and identity it holds (48 bytes; eleven
slots were 170, a dict of the same 700), so a million accounts' population is held in about
50 MB.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from typing import Any

from services.checks.base import Population, PopulationItem
from services.identity.models import Identity
from services.sync.models import Grant, GrantKind, SnapshotAccount

KIND = "accounts"
_NOBODY = Identity(account_id="")  # an UNIDENTIFIED identity's classification and links


def _identity(row: AccountRow) -> Identity:
    return row.identity if row.identity is not None else _NOBODY


class AccountRow(Mapping[str, Any]):
    """One account as the population lists it: a read-only mapping of ``KEYS``, read from
    the account and the identity it was built with (both immutable) when asked — a row holds
    two references, not its eleven values."""

    __slots__ = ("account", "identity")
    account: SnapshotAccount
    identity: Identity | None

    def __init__(self, account: SnapshotAccount, identity: Identity | None) -> None:
        self.account = account
        self.identity = identity  # None: UNIDENTIFIED

    def __getitem__(self, key: str) -> Any:
        return _VALUES[key](self)

    def __iter__(self) -> Iterator[str]:
        return iter(KEYS)

    def __len__(self) -> int:
        return len(KEYS)

    def __repr__(self) -> str:
        return f"AccountRow({dict(self)!r})"


@lru_cache(maxsize=4096)
def grant_labels(grants: tuple[Grant, ...]) -> tuple[str, ...]:
    """The labels of some grants (one shared tuple per distinct set of grants)."""
    return tuple(grant_label(g) for g in grants)


def grant_label(grant: Grant) -> str:
    """A grant in the population: ``DIRECT``, ``DIRECT:atlassian/admin``, ``GROUP:name``,
    ``GROUP:name:atlassian/admin`` (``GROUP:`` with no name when Atlassian did not say)."""
    parts = [grant.kind.value]
    if grant.kind is GrantKind.GROUP:
        parts.append(grant.group or "")
    if grant.role:
        parts.append(grant.role)
    return ":".join(parts)


# How each key's value is read from the account and its identity.
_VALUES: dict[str, Callable[[AccountRow], Any]] = {
    "accountId": lambda r: r.account.account_id,
    "accountStatus": lambda r: r.account.account_status.value,
    "hasAccess": lambda r: r.account.has_access,
    "accessVia": lambda r: grant_labels(r.account.access_via),
    "isAdmin": lambda r: r.account.is_admin,
    "adminVia": lambda r: grant_labels(r.account.admin_via),
    "mfaEnabled": lambda r: r.account.mfa_enabled,
    "classification": lambda r: _identity(r).classification.value,
    "personId": lambda r: _identity(r).person_id,
    "kind": lambda r: k.value if (k := _identity(r).kind) else None,
    "method": lambda r: m.value if (m := _identity(r).method) else None,
}
KEYS = tuple(_VALUES)


def population_item(account: SnapshotAccount, identity: Identity | None) -> PopulationItem:
    """One account as the access checks' population lists it."""
    return AccountRow(account, identity)


def build_population(
    accounts: tuple[SnapshotAccount, ...], identities: Mapping[str, Identity]
) -> Population:
    """The population from scratch (what ``PopulationCache`` must always equal)."""
    items = tuple(population_item(a, identities.get(a.account_id)) for a in accounts)
    return Population(kind=KIND, items=items)


@dataclass
class _Held:
    accounts: tuple[SnapshotAccount, ...]
    identities: Mapping[str, Identity]
    population: Population
    # the identity each item was built with, by position
    built_with: tuple[Identity | None, ...]
    # whether the accounts are sorted by id (positions are then found by bisection)
    by_id_order: bool


class PopulationCache:
    """Per organization, the last population and its items (see the module docstring)."""

    def __init__(self, *, max_organizations: int = 64) -> None:
        self._max = max_organizations
        self._held: OrderedDict[str, _Held] = OrderedDict()
        self.built_items = 0  # items built (not reused) since creation; tests count them

    def population(
        self,
        organization_id: str,
        accounts: tuple[SnapshotAccount, ...],
        identities: Mapping[str, Identity],
        *,
        changed: Collection[str] | None = None,
    ) -> Population:
        """The population of ``accounts`` with ``identities``, reusing what did not change;
        ``changed``: the accounts whose identity may differ from the identities of the
        previous call (None: unknown)."""
        held = self._held.get(organization_id)
        if held is not None and held.accounts is accounts and held.identities is identities:
            self._held.move_to_end(organization_id)
            return held.population
        if held is not None and held.accounts is accounts:
            if changed is not None and held.by_id_order:
                positions = _positions(accounts, changed)
            else:
                positions = [
                    i
                    for i, (a, before) in enumerate(zip(accounts, held.built_with, strict=True))
                    if identities.get(a.account_id) is not before
                ]
            items = list(held.population.items)
            built = list(held.built_with)
            for i in positions:
                identity = identities.get(accounts[i].account_id)
                items[i] = population_item(accounts[i], identity)
                built[i] = identity
            self.built_items += len(positions)
            held = _Held(
                accounts,
                identities,
                Population(kind=KIND, items=tuple(items)),
                tuple(built),
                held.by_id_order,
            )
        else:
            built_with = tuple(identities.get(a.account_id) for a in accounts)
            items_built = tuple(
                population_item(a, i) for a, i in zip(accounts, built_with, strict=True)
            )
            self.built_items += len(accounts)
            ordered = all(a.account_id < b.account_id for a, b in pairwise(accounts))
            held = _Held(
                accounts, identities, Population(kind=KIND, items=items_built), built_with, ordered
            )
        self._held[organization_id] = held
        self._held.move_to_end(organization_id)
        while len(self._held) > self._max:
            self._held.popitem(last=False)
        return held.population


def _positions(accounts: tuple[SnapshotAccount, ...], account_ids: Collection[str]) -> list[int]:
    """The positions of those of ``account_ids`` present in ``accounts`` (sorted by id)."""
    found = []
    for account_id in account_ids:
        at = bisect_left(accounts, account_id, key=_account_id)
        if at < len(accounts) and accounts[at].account_id == account_id:
            found.append(at)
    return found


def _account_id(account: SnapshotAccount) -> str:
    return account.account_id
