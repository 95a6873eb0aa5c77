"""Account identities: automatic resolution and a person's decisions (SPEC §4).

Manual decisions (``link``, ``mark_not_staff``) are never overwritten by automatic ones.
``clear`` removes a decision: the account is resolved automatically again at once.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import KW_ONLY, dataclass, field, replace
from typing import Protocol

from services.api_keys import require_role
from services.callbacks import OnChange, ignore_change
from services.clock import Clock, utcnow
from services.errors import NotFound, ValidationFailed
from services.identity.directory import Directory
from services.identity.models import (
    Classification,
    Identity,
    IdentityMethod,
    NotStaffKind,
    ResolutionMark,
    unidentified,
)
from services.identity.resolution import automatic_identity, resolve
from services.identity.views import AccountView, view_of
from services.models import Principal, RevisionState, Role
from services.people.models import Person
from services.sync.models import SnapshotAccount

log = logging.getLogger(__name__)

MAX_REASON = 500


class IdentitiesRepo(Protocol):
    """The ``IdentityRepository`` methods ``IdentityService`` calls."""

    async def resolution_mark(self, *, organization_id: str) -> ResolutionMark | None: ...
    async def mark_resolved(self, *, organization_id: str, mark: ResolutionMark) -> None: ...
    async def write_automatic(
        self, *, organization_id: str, identities: Sequence[Identity], stored: Collection[str]
    ) -> int: ...
    async def write_manual(self, *, organization_id: str, identity: Identity) -> int: ...


class PeopleRepo(Protocol):
    """The ``PeopleRepository`` methods ``IdentityService`` calls."""

    async def get(self, *, organization_id: str, person_id: str) -> Person | None: ...
    async def revision(self, *, organization_id: str) -> RevisionState: ...
    async def list_changed(
        self, *, organization_id: str, after_seq: int
    ) -> list[tuple[int, Person]]: ...


@dataclass(eq=False, repr=False)
class IdentityService:
    """Resolves and records who each Confluence account belongs to."""

    directory: Directory
    _: KW_ONLY
    identities: IdentitiesRepo
    people: PeopleRepo
    on_identity_decided: OnChange = ignore_change
    clock: Clock = utcnow
    # accounts the rules were applied to (tests count them)
    accounts_resolved: int = field(init=False, default=0)

    async def resolve(
        self, organization_id: str, *, person_ids: Collection[str] | None = None
    ) -> int:
        """Apply the automatic rules to the current accounts; returns how many changed.

        With ``person_ids`` (people just written), only the accounts whose email is one of
        theirs: a person can change no other account's automatic identity (the email is the
        person's key). That is exact once the snapshot's accounts were resolved against every
        person written before, which the stored mark says (``ResolutionMark``; any process
        wrote it): the people written since the mark are resolved too. Without a mark for
        the current snapshot (one committed without its resolution finishing) the snapshot
        is resolved whole. Sync commits resolve all.
        """
        current = await self.directory.current_accounts(organization_id)
        if current.snapshot is None:
            return 0
        snapshot = current.snapshot
        # Read first: the maps read next hold at least every person written at or below it.
        revision = await self.people.revision(organization_id=organization_id)
        identities = await self.directory.identities(organization_id)
        people = await self.directory.people(organization_id)
        mark = None
        if person_ids is not None:
            mark = await self.identities.resolution_mark(organization_id=organization_id)
        if mark is None or mark.snapshot_id != snapshot.snapshot_id:
            accounts: Sequence[SnapshotAccount] = snapshot.accounts
            changes = resolve(accounts, identities, people.values())
        else:
            since = await self.people.list_changed(
                organization_id=organization_id, after_seq=mark.people_seq
            )
            ids = set(person_ids or ()) | {person.id for _, person in since}
            touched = [people[pid] for pid in ids if pid in people]
            accounts = [a for p in touched for a in snapshot.with_email(p.email_key)]
            changes = resolve(accounts, identities, touched)
        self.accounts_resolved += len(accounts)
        if changes:
            # Not applied to the cache directly: a concurrent manual decision wins in the
            # database, so the next read fetches what was actually stored.
            await self.identities.write_automatic(
                organization_id=organization_id, identities=changes, stored=identities.keys()
            )
            log.info("resolved %d account identities automatically", len(changes))
        if not revision.writing:  # a writer below it may not be in the maps: no mark
            covered = ResolutionMark(snapshot.snapshot_id, revision.value)
            await self.identities.mark_resolved(organization_id=organization_id, mark=covered)
        return len(changes)

    async def link(self, principal: Principal, account_id: str, person_id: str) -> AccountView:
        """Link an account to a person: STAFF, decided by hand (ADMIN)."""
        require_role(principal, Role.ADMIN)
        org = principal.organization_id
        account = await self._account(org, account_id)
        person = await self.people.get(organization_id=org, person_id=person_id)
        if person is None:
            raise NotFound(f"person {person_id} not found", field=["input", "personId"])
        identity = Identity(account_id, Classification.STAFF, person_id=person.id)
        return await self._save(org, account, self._decided(principal, identity))

    async def mark_not_staff(
        self, principal: Principal, account_id: str, kind: NotStaffKind, reason: str
    ) -> AccountView:
        """Classify an account as not staff, with the reason why (ADMIN)."""
        require_role(principal, Role.ADMIN)
        reason = reason.strip()
        if not reason:
            raise ValidationFailed("a reason is required", field=["input", "reason"])
        if len(reason) > MAX_REASON:
            raise ValidationFailed(
                f"reason must be at most {MAX_REASON} characters", field=["input", "reason"]
            )
        account = await self._account(principal.organization_id, account_id)
        identity = Identity(account_id, Classification.NOT_STAFF, kind=kind, reason=reason)
        return await self._save(
            principal.organization_id, account, self._decided(principal, identity)
        )

    async def clear(self, principal: Principal, account_id: str) -> AccountView:
        """Remove any decision; the automatic rules apply again at once (ADMIN)."""
        require_role(principal, Role.ADMIN)
        org = principal.organization_id
        account = await self._account(org, account_id)
        people = await self.directory.people(org)
        by_email = {p.email_key: p for p in people.values()}
        identity = automatic_identity(account, by_email) or unidentified(account_id)
        return await self._save(org, account, identity)

    async def view(self, organization_id: str, account_id: str) -> AccountView:
        """One account of the current snapshot with its identity."""
        account = await self._account(organization_id, account_id)
        identities = await self.directory.identities(organization_id)
        people = await self.directory.people(organization_id)
        return view_of(account, identities, people)

    def _decided(self, principal: Principal, identity: Identity) -> Identity:
        return replace(
            identity,
            method=IdentityMethod.MANUAL,
            decided_by=principal.actor_id,
            decided_at=self.clock(),
        )

    async def _account(self, organization_id: str, account_id: str) -> SnapshotAccount:
        current = await self.directory.current_accounts(organization_id)
        account = current.snapshot.by_id.get(account_id) if current.snapshot else None
        if account is None:
            raise NotFound(
                f"account {account_id} is not in the current access-review snapshot",
                field=["input", "accountId"],
            )
        return account

    async def _save(
        self, organization_id: str, account: SnapshotAccount, identity: Identity
    ) -> AccountView:
        seq = await self.identities.write_manual(organization_id=organization_id, identity=identity)
        self.directory.identities_written(organization_id, [(seq, identity)], seq)
        await self.on_identity_decided(organization_id)
        people = await self.directory.people(organization_id)
        return view_of(account, {identity.account_id: identity}, people)
