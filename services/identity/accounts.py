"""The ``accounts`` query: current snapshot accounts joined with their identities.

Without a classification filter the snapshot reader pages through the store; with one, the
classification lives in another collection, so the cached current accounts are filtered in
memory (O(n) over one snapshot, no cross-collection query) with the same filter semantics.
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
from services.people.models import Person
from services.sync.models import AccountFilter, SnapshotAccount
from services.sync.reads import SnapshotReader

MAX_FILTER_TEXT = 200


class AccountService:
    """Accounts of the caller's organization's current ACCESS_REVIEW snapshot."""

    def __init__(self, reader: SnapshotReader, directory: Directory) -> None:
        self._reader = reader
        self._directory = directory

    async def accounts(
        self,
        principal: Principal,
        filter: AccountFilter | None,
        first: int | None,
        after: str | None,
    ) -> Slice[AccountView]:
        """A page of accounts by account id, each with its identity and person."""
        org = principal.organization_id
        if filter is None or filter.classification is None:
            page = await self._reader.accounts(principal, filter, first, after)
            identities, people = await self._joins(org)
            items = [(c, view_of(a, identities, people)) for c, a in page.items]
            return Slice(items, page.total_count, page.has_next_page)
        return await self._classified(org, _checked(filter), page_size(first), after)

    async def account(self, principal: Principal, account_id: str) -> AccountView | None:
        """One account of the current snapshot with its identity, or None."""
        org = principal.organization_id
        current = await self._directory.current_accounts(org)
        found = current.snapshot.by_id.get(account_id) if current.snapshot else None
        if found is None:
            return None
        identities, people = await self._joins(org)
        return view_of(found, identities, people)

    async def _classified(
        self, org: str, filter: AccountFilter, limit: int, after: str | None
    ) -> Slice[AccountView]:
        key = decode_cursor(after)
        current = await self._directory.current_accounts(org)
        identities, people = await self._joins(org)
        wanted = Classification(filter.classification or "")
        matching = [
            view_of(a, identities, people)
            for a in current.accounts
            if _matches(a, filter) and _classification(a, identities) is wanted
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


def _classification(account: SnapshotAccount, identities: Mapping[str, Identity]) -> Classification:
    identity = identities.get(account.account_id)
    return identity.classification if identity else Classification.UNIDENTIFIED


def _checked(f: AccountFilter) -> AccountFilter:
    if f.classification not in {c.value for c in Classification}:
        raise ValidationFailed("unknown classification", field=["filter", "classification"])
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
