"""The ``accounts`` query: current snapshot accounts joined with their identities.

Without a classification or person-status filter the snapshot reader pages through the
store; with one, the classification and the person live in other collections, so the cached
current accounts, identities and people (``Directory``) are filtered in memory (O(n) over one
snapshot, no store read, no cross-collection query) with the same filter semantics. A
person's accounts come from the same caches, grouped once per version of them.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping

from services.errors import ValidationFailed
from services.identity.directory import Directory
from services.identity.models import Classification, Identity
from services.identity.views import AccountView, view_of
from services.models import Principal
from services.paging import Slice, decode_cursor, make_slice, page_size
from services.people.models import Person, PersonStatus
from services.sync.models import AccountFilter, SnapshotAccount
from services.sync.reads import SnapshotReader

MAX_FILTER_TEXT = 200


class AccountService:
    """Accounts of the caller's organization's current ACCESS_REVIEW snapshot."""

    def __init__(self, reader: SnapshotReader, directory: Directory) -> None:
        self._reader = reader
        self._directory = directory
        # The account ids of each person, and the identities (a cached, read-only mapping
        # replaced when one changes) they were grouped from.
        self._by_person: tuple[Mapping[str, Identity], dict[str, list[str]]] | None = None

    async def accounts(
        self,
        principal: Principal,
        filter: AccountFilter | None,
        first: int | None,
        after: str | None,
    ) -> Slice[AccountView]:
        """A page of accounts by account id, each with its identity and person."""
        org = principal.organization_id
        if filter is None or (filter.classification is None and filter.person_status is None):
            page = await self._reader.accounts(principal, filter, first, after)
            identities, people = await self._joins(org)
            items = [(c, view_of(a, identities, people)) for c, a in page.items]
            return Slice(items, page.total_count, page.has_next_page)
        return await self._joined(org, _checked(filter), page_size(first), after)

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
        org = principal.organization_id
        current = await self._directory.current_accounts(org)
        found = current.snapshot.by_id.get(account_id) if current.snapshot else None
        if found is None:
            return None
        identities, people = await self._joins(org)
        return view_of(found, identities, people)

    async def _joined(
        self, org: str, filter: AccountFilter, limit: int, after: str | None
    ) -> Slice[AccountView]:
        """Filtered on the joined identity and person too (``classification``,
        ``person_status``), in memory over the cached current accounts."""
        key = decode_cursor(after)
        current = await self._directory.current_accounts(org)
        identities, people = await self._joins(org)
        matching = [
            view
            for view in (
                view_of(a, identities, people) for a in current.accounts if _matches(a, filter)
            )
            if _joined_match(view, filter)
        ]
        start = 0
        if key is not None:
            ids = [v.account.account_id for v in matching]
            start = bisect.bisect_right(ids, key)
        rows = matching[start : start + limit + 1]
        return make_slice(
            rows, limit=limit, total=len(matching), key=lambda v: v.account.account_id
        )

    async def _joins(self, org: str) -> tuple[Mapping[str, Identity], Mapping[str, Person]]:
        return await self._directory.identities(org), await self._directory.people(org)


def _joined_match(view: AccountView, f: AccountFilter) -> bool:
    """The filters on what is joined to the account: its identity, its person."""
    if f.classification is not None and view.identity.classification != f.classification:
        return False
    if f.person_status is not None:
        return view.person is not None and view.person.status == f.person_status
    return True


def _checked(f: AccountFilter) -> AccountFilter:
    if f.classification is not None and f.classification not in {c.value for c in Classification}:
        raise ValidationFailed("unknown classification", field=["filter", "classification"])
    if f.person_status is not None and f.person_status not in {s.value for s in PersonStatus}:
        raise ValidationFailed("unknown person status", field=["filter", "personStatus"])
    for name in ("group", "search", "status", "account_type"):
        value = getattr(f, name)
        if value is not None and len(value) > MAX_FILTER_TEXT:
            raise ValidationFailed(
                f"{name} must be at most {MAX_FILTER_TEXT} characters", field=["filter", name]
            )
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
