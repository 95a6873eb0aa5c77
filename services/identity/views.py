"""An account as the API shows it: snapshot data plus its identity and linked person."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from services.identity.models import Identity, unidentified
from services.people.models import Person
from services.sync.models import SnapshotAccount


@dataclass(frozen=True, slots=True)
class AccountView:
    """An account of the current snapshot with its identity (and person when STAFF)."""

    account: SnapshotAccount
    identity: Identity
    person: Person | None = None


def view_of(
    account: SnapshotAccount, identities: Mapping[str, Identity], people: Mapping[str, Person]
) -> AccountView:
    """Join an account with its identity and person."""
    identity = identities.get(account.account_id) or unidentified(account.account_id)
    person = people.get(identity.person_id) if identity.person_id else None
    return AccountView(account=account, identity=identity, person=person)
