"""Automatic identity resolution (SPEC §4), as a pure function over the current data.

- an account whose visible email matches a person → STAFF (AUTO_EMAIL);
- an ``app`` account → NOT_STAFF / SYSTEM (AUTO_APP);
- otherwise it stays as it was (UNIDENTIFIED if new);
- a MANUAL decision is never changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from services.identity.models import Classification, Identity, IdentityMethod, NotStaffKind
from services.models import AccountType
from services.people.models import Person
from services.sync.models import SnapshotAccount

APP_REASON = "Atlassian app account (classified automatically)"


def automatic_identity(
    account: SnapshotAccount, people_by_email: Mapping[str, Person]
) -> Identity | None:
    """What the rules say about an account, or None when they say nothing."""
    person = people_by_email.get(account.email.lower()) if account.email else None
    if person is not None:
        return Identity(
            account_id=account.account_id,
            classification=Classification.STAFF,
            person_id=person.id,
            method=IdentityMethod.AUTO_EMAIL,
        )
    if account.account_type is AccountType.APP:
        return Identity(
            account_id=account.account_id,
            classification=Classification.NOT_STAFF,
            kind=NotStaffKind.SYSTEM,
            reason=APP_REASON,
            method=IdentityMethod.AUTO_APP,
        )
    return None


def resolve(
    accounts: Iterable[SnapshotAccount],
    identities: Mapping[str, Identity],
    people: Iterable[Person],
) -> list[Identity]:
    """The identities that automatic resolution changes (manual decisions are kept)."""
    by_email = {p.email_key: p for p in people}
    changes = []
    for account in accounts:
        current = identities.get(account.account_id)
        if current is not None and current.manual:
            continue
        wanted = automatic_identity(account, by_email)
        if wanted is not None and (current is None or not current.same_decision(wanted)):
            changes.append(wanted)
    return changes
