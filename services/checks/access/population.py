"""The access checks' population, rebuilt only where accounts or identities changed.

Every evaluation of the access checks hands its population (every account of the current
snapshot with its identity) to evidence. Building it is O(n) in dicts; so is serialising it.
``PopulationCache`` keeps, per organization, the last population and the item of every
account: when neither the snapshot's accounts nor the identities map changed (maps from
``Directory`` are new objects only after a change), the same ``Population`` object is
returned; otherwise only the items of accounts whose account or identity object changed are
rebuilt, and the others are the very same item objects — which lets the evidence recorder
reuse their canonical text (``services.evidence.recorder.PopulationChunks``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.checks.base import Population, PopulationItem
from services.identity.models import Identity, unidentified
from services.sync.models import Grant, GrantKind, SnapshotAccount

KIND = "accounts"


def population_item(account: SnapshotAccount, identity: Identity | None) -> PopulationItem:
    """One account as the access checks' population lists it."""
    identity = identity or unidentified(account.account_id)
    return {
        "accountId": account.account_id,
        "accountStatus": account.account_status.value,
        "hasAccess": account.has_access,
        "accessVia": [grant_label(g) for g in account.access_via],
        "isAdmin": account.is_admin,
        "adminVia": [grant_label(g) for g in account.admin_via],
        "mfaEnabled": account.mfa_enabled,
        "classification": identity.classification.value,
        "personId": identity.person_id,
        "kind": identity.kind.value if identity.kind else None,
        "method": identity.method.value if identity.method else None,
    }


def grant_label(grant: Grant) -> str:
    """A grant in the population: ``DIRECT``, ``DIRECT:atlassian/admin``, ``GROUP:name``,
    ``GROUP:name:atlassian/admin`` (``GROUP:`` with no name when Atlassian did not say)."""
    parts = [grant.kind.value]
    if grant.kind is GrantKind.GROUP:
        parts.append(grant.group or "")
    if grant.role:
        parts.append(grant.role)
    return ":".join(parts)


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
    # account id → (account, identity, item) the item was built from
    items: dict[str, tuple[SnapshotAccount, Identity | None, PopulationItem]]


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
    ) -> Population:
        """The population of ``accounts`` with ``identities``, reusing what did not change."""
        held = self._held.get(organization_id)
        if held is not None and held.accounts is accounts and held.identities is identities:
            self._held.move_to_end(organization_id)
            return held.population
        before = held.items if held is not None else {}
        kept: dict[str, tuple[SnapshotAccount, Identity | None, PopulationItem]] = {}
        items: list[PopulationItem] = []
        for account in accounts:
            account_id = account.account_id
            identity = identities.get(account_id)
            prior: Any = before.get(account_id)
            if prior is not None and prior[0] is account and prior[1] is identity:
                item = prior[2]
            else:
                item = population_item(account, identity)
                self.built_items += 1
            kept[account_id] = (account, identity, item)
            items.append(item)
        population = Population(kind=KIND, items=tuple(items))
        self._held[organization_id] = _Held(accounts, identities, population, kept)
        self._held.move_to_end(organization_id)
        while len(self._held) > self._max:
            self._held.popitem(last=False)
        return population
