"""The ``accounts`` query: current snapshot accounts joined with their identities.

With no filter, or one filter with a value of its own (a status, ``admin``, ``hasAccess``, a
type or a group), the snapshot reader reads the page from the store (the snapshot's orders:
the page costs the page). A classification and a person's status live in other collections,
and a text search or several filters at once have no order of their own, so those filter the
cached current accounts in
memory (one pass over the snapshot, no cross-collection query) with the same semantics; the
matching accounts are kept for the next pages of the same filter (``_MATCHES_KEPT`` filters,
until the snapshot, the identities or the people change), so a later page costs the page.
A person's accounts come from the same caches, grouped once per version of them.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

from services.errors import ValidationFailed
from services.identity.caches import SnapshotAccounts
from services.identity.directory import Directory
from services.identity.models import Classification, Identity
from services.identity.views import AccountView, view_of
from services.models import Principal
from services.paging import Slice, decode_cursor, make_slice, page_size
from services.people.models import Person, PersonStatus
from services.sync.models import AccountFilter, SnapshotAccount
from services.sync.reads import SnapshotReader, check_account_texts

_MATCHES_KEPT = 32


@dataclass(frozen=True)
class _Matches:
    """The accounts of one snapshot matching one filter, for the maps they were joined with."""

    identities: Mapping[str, Identity]
    people: Mapping[str, Person]
    accounts: list[SnapshotAccount]
    ids: list[str]


class AccountService:
    """Accounts of the caller's organization's current ACCESS_REVIEW snapshot."""

    def __init__(self, reader: SnapshotReader, directory: Directory) -> None:
        self._reader = reader
        self._directory = directory
        # The account ids of each person, and the identities (a cached, read-only mapping
        # replaced when one changes) they were grouped from.
        self._by_person: tuple[Mapping[str, Identity], dict[str, list[str]]] | None = None
        self._matches: OrderedDict[tuple[str, AccountFilter], _Matches] = OrderedDict()

    async def accounts(
        self,
        principal: Principal,
        filter: AccountFilter | None,
        first: int | None,
        after: str | None,
    ) -> Slice[AccountView]:
        """A page of accounts by account id, each with its identity and person."""
        org = principal.organization_id
        if filter is None or _paged_by_the_store(filter):
            page = await self._reader.accounts(principal, filter, first, after)
            identities, people = await self._joins(org)
            items = [(c, view_of(a, identities, people)) for c, a in page.items]
            return Slice(items, page.total_count, page.has_next_page)
        return await self._in_memory(org, _checked(filter), page_size(first), after)

    async def of_person(self, principal: Principal, person_id: str) -> list[AccountView]:
        """The current snapshot's accounts linked to a person, by account id."""
        org = principal.organization_id
        current = await self._directory.current_accounts(org)
        if current.snapshot is None:
            return []
        identities, people = await self._joins(org)
        grouped = self._by_person
        if grouped is None or grouped[0] is not identities:
            by_person: dict[str, list[str]] = {}
            for identity in identities.values():
                if identity.person_id is not None:
                    by_person.setdefault(identity.person_id, []).append(identity.account_id)
            grouped = self._by_person = (identities, by_person)
        found = (current.snapshot.by_id.get(a) for a in sorted(grouped[1].get(person_id, ())))
        return [view_of(a, identities, people) for a in found if a is not None]

    async def account(self, principal: Principal, account_id: str) -> AccountView | None:
        """One account of the current snapshot with its identity, or None."""
        found = await self._reader.account(principal, account_id)
        if found is None:
            return None
        identities, people = await self._joins(principal.organization_id)
        return view_of(found, identities, people)

    async def _in_memory(
        self, org: str, filter: AccountFilter, limit: int, after: str | None
    ) -> Slice[AccountView]:
        """Filtered on the joined identity and person too (``classification``,
        ``person_status``), in memory over the cached current accounts."""
        key = decode_cursor(after)
        current = await self._directory.current_accounts(org)
        identities, people = await self._joins(org)
        matches = self._matching(current.snapshot, filter, identities, people)
        start = 0 if key is None else bisect.bisect_right(matches.ids, key)
        rows = [view_of(a, identities, people) for a in matches.accounts[start : start + limit + 1]]
        return make_slice(
            rows, limit=limit, total=len(matches.ids), key=lambda v: v.account.account_id
        )

    def _matching(
        self,
        snapshot: SnapshotAccounts | None,
        filter: AccountFilter,
        identities: Mapping[str, Identity],
        people: Mapping[str, Person],
    ) -> _Matches:
        """The snapshot's accounts matching ``filter``, kept for the next pages."""
        if snapshot is None:
            return _Matches(identities, people, [], [])
        cache_key = (snapshot.snapshot_id, filter)
        kept = self._matches.get(cache_key)
        if kept is not None and kept.identities is identities and kept.people is people:
            self._matches.move_to_end(cache_key)
            return kept
        accounts = [
            a
            for a in snapshot.accounts
            if _matches(a, filter) and _joined_match(view_of(a, identities, people), filter)
        ]
        found = _Matches(identities, people, accounts, [a.account_id for a in accounts])
        self._matches[cache_key] = found
        while len(self._matches) > _MATCHES_KEPT:
            self._matches.popitem(last=False)
        return found

    async def _joins(self, org: str) -> tuple[Mapping[str, Identity], Mapping[str, Person]]:
        return await self._directory.identities(org), await self._directory.people(org)


def _joined_match(view: AccountView, f: AccountFilter) -> bool:
    """The filters on what is joined to the account: its identity, its person."""
    if f.classification is not None and view.identity.classification != f.classification:
        return False
    if f.person_status is not None:
        return view.person is not None and view.person.status == f.person_status
    return True


def _paged_by_the_store(f: AccountFilter) -> bool:
    """No joined filter (classification, person status), no search, at most one filter with
    a value of its own."""
    if f.classification is not None or f.person_status is not None or f.search:
        return False
    given = (f.status, f.admin, f.has_access, f.group, f.account_type)
    return sum(v is not None for v in given) <= 1


def _checked(f: AccountFilter) -> AccountFilter:
    if f.classification is not None and f.classification not in {c.value for c in Classification}:
        raise ValidationFailed("unknown classification", field=["filter", "classification"])
    if f.person_status is not None and f.person_status not in {s.value for s in PersonStatus}:
        raise ValidationFailed("unknown person status", field=["filter", "personStatus"])
    check_account_texts(f)
    return f


def _matches(a: SnapshotAccount, f: AccountFilter) -> bool:
    """The snapshot reader's filter semantics, in memory."""
    if f.status is not None and a.account_status != f.status:
        return False
    if f.admin is not None and a.is_admin != f.admin:
        return False
    if f.has_access is not None and a.has_access != f.has_access:
        return False
    if f.group is not None and f.group not in a.groups:
        return False
    if f.account_type is not None and a.account_type != f.account_type:
        return False
    if f.search:
        text = f.search.casefold()
        fields = (a.display_name or "", a.email or "")
        return any(text in value.casefold() for value in fields)
    return True
