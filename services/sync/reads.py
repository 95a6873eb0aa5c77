"""Reading the current snapshots: ``accounts`` (ACCESS_REVIEW) and ``confluencePages`` (POLICY).

Only an integration's *current* snapshot is ever read, so a run in progress or a failed run
is never visible. Classification is not a snapshot fact: ``identity.AccountService`` joins
identities and applies that filter; this reader only checks that its value is known.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Protocol, TypeVar

from services.errors import ValidationFailed
from services.integrations.models import Integration, Purpose
from services.models import Principal
from services.paging import Slice, check_filter_texts, decode_cursor, make_slice, page_size
from services.sync.models import AccountFilter, PageFilter, SnapshotAccount, SnapshotPage

CLASSIFICATIONS = ("STAFF", "NOT_STAFF", "UNIDENTIFIED")

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class RowsOf(Protocol[T_co]):
    """A listing of a snapshot (its filter given): up to ``limit`` rows after the sort key
    ``after``, and how many there are."""

    def __call__(
        self, *, snapshot_id: str, limit: int, after: str | None
    ) -> Awaitable[tuple[Sequence[T_co], int]]: ...


class SnapshotQueriesRepo(Protocol):
    """The ``SnapshotQueryRepository`` methods ``SnapshotReader`` calls."""

    async def list_accounts(
        self, *, snapshot_id: str, filter: AccountFilter, limit: int, after: str | None
    ) -> tuple[list[SnapshotAccount], int]: ...
    async def list_pages(
        self, *, snapshot_id: str, filter: PageFilter, limit: int, after: str | None
    ) -> tuple[list[SnapshotPage], int]: ...
    async def get_account(self, *, snapshot_id: str, account_id: str) -> SnapshotAccount | None: ...


class IntegrationsRepo(Protocol):
    """The ``IntegrationRepository`` methods ``SnapshotReader`` calls."""

    async def get_live_for_purpose(
        self, *, organization_id: str, purpose: Purpose
    ) -> Integration | None: ...
    async def list_by_organization(self, *, organization_id: str) -> list[Integration]: ...


class SnapshotReader:
    """Accounts and pages of the caller's organization's current snapshots."""

    def __init__(
        self, *, integrations: IntegrationsRepo, snapshot_queries: SnapshotQueriesRepo
    ) -> None:
        self._integrations = integrations
        self._snapshot_queries = snapshot_queries

    async def current_snapshot(self, organization_id: str, purpose: Purpose) -> str | None:
        """The current snapshot of the organization's integration for ``purpose``, if any."""
        integration = await self.integration_for(organization_id, purpose)
        return integration.current_snapshot_id if integration else None

    async def integration_for(self, organization_id: str, purpose: Purpose) -> Integration | None:
        """The live integration for ``purpose``, else the newest one that has a snapshot."""
        integrations = self._integrations
        live = await integrations.get_live_for_purpose(
            organization_id=organization_id, purpose=purpose
        )
        if live is not None and live.current_snapshot_id:
            return live
        for candidate in await integrations.list_by_organization(organization_id=organization_id):
            if candidate.purpose is purpose and candidate.current_snapshot_id:
                return candidate
        return live

    async def accounts(
        self,
        principal: Principal,
        filter: AccountFilter | None,
        first: int | None,
        after: str | None,
    ) -> Slice[SnapshotAccount]:
        """Accounts of the current ACCESS_REVIEW snapshot, by account id."""
        checked = _checked_accounts(filter or AccountFilter())
        rows = partial(self._snapshot_queries.list_accounts, filter=checked)
        return await self._page(principal, Purpose.ACCESS_REVIEW, rows, first, after, _account_key)

    async def account(self, principal: Principal, account_id: str) -> SnapshotAccount | None:
        """One account of the current ACCESS_REVIEW snapshot (one document read), or None."""
        snapshot = await self.current_snapshot(principal.organization_id, Purpose.ACCESS_REVIEW)
        if snapshot is None:
            return None
        return await self._snapshot_queries.get_account(snapshot_id=snapshot, account_id=account_id)

    async def pages(
        self,
        principal: Principal,
        filter: PageFilter | None,
        first: int | None,
        after: str | None,
    ) -> Slice[SnapshotPage]:
        """Pages of the current POLICY snapshot, by page id."""
        checked = filter or PageFilter()
        check_filter_texts(checked, ("label", "space", "search"))
        rows = partial(self._snapshot_queries.list_pages, filter=checked)
        return await self._page(principal, Purpose.POLICY, rows, first, after, _page_key)

    async def _page(
        self,
        principal: Principal,
        purpose: Purpose,
        rows: RowsOf[T],
        first: int | None,
        after: str | None,
        key: Callable[[T], str],
    ) -> Slice[T]:
        """A page of ``rows`` of the current ``purpose`` snapshot, by their ``key``."""
        limit, after_key = page_size(first), decode_cursor(after)
        snapshot = await self.current_snapshot(principal.organization_id, purpose)
        if snapshot is None:
            return Slice(items=[], total_count=0, has_next_page=False)
        found, total = await rows(snapshot_id=snapshot, limit=limit + 1, after=after_key)
        return make_slice(found, limit=limit, total=total, key=key)


def _account_key(account: SnapshotAccount) -> str:
    return account.account_id


def _page_key(page: SnapshotPage) -> str:
    return page.page_id


def _checked_accounts(f: AccountFilter) -> AccountFilter:
    if f.classification is not None and f.classification not in CLASSIFICATIONS:
        raise ValidationFailed("unknown classification", field=["filter", "classification"])
    check_account_texts(f)
    return f


def check_account_texts(f: AccountFilter) -> None:
    """Refuse an account filter with a text longer than ``paging.MAX_FILTER_TEXT`` characters."""
    check_filter_texts(f, ("group", "search", "status", "account_type"))
