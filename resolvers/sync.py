"""Sync runs, their live progress, and the current snapshots' accounts and pages."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

import strawberry

from resolvers.context import Context, principal_of
from resolvers.errors import user_errors
from resolvers.snapshot_types import AccountConnection, AccountFilter, PageConnection, PageFilter
from resolvers.sync_types import SyncRun, SyncRunConnection, SyncRunPayload
from services.errors import DomainError


@strawberry.type
class SyncQuery:
    """Reads of runs and of the current snapshots."""

    @strawberry.field(description="Sync runs of an integration, newest first.")
    async def sync_runs(
        self,
        info: strawberry.Info[Context, Any],
        integration_id: strawberry.ID,
        first: int | None = None,
        after: str | None = None,
    ) -> SyncRunConnection:
        page = await info.context.services.sync.list_runs(
            principal_of(info), str(integration_id), first, after
        )
        return SyncRunConnection.of(page)

    @strawberry.field(description="Accounts of the current access-review snapshot.")
    async def accounts(
        self,
        info: strawberry.Info[Context, Any],
        filter: AccountFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> AccountConnection:
        page = await info.context.services.accounts.accounts(
            principal_of(info), filter.to_domain() if filter else None, first, after
        )
        return AccountConnection.of(page)

    @strawberry.field(description="Pages of the current policy snapshot.")
    async def confluence_pages(
        self,
        info: strawberry.Info[Context, Any],
        filter: PageFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> PageConnection:
        page = await info.context.services.snapshots.pages(
            principal_of(info), filter.to_domain() if filter else None, first, after
        )
        return PageConnection.of(page)


@strawberry.type
class SyncMutation:
    """Starting syncs."""

    @strawberry.mutation(description="Sync an integration now (ADMIN); returns the running run.")
    async def trigger_sync(
        self, info: strawberry.Info[Context, Any], integration_id: strawberry.ID
    ) -> SyncRunPayload:
        try:
            run = await info.context.services.sync.trigger(principal_of(info), str(integration_id))
        except DomainError as exc:
            return SyncRunPayload(user_errors=user_errors(exc))
        return SyncRunPayload(sync_run=SyncRun.from_domain(run))


@strawberry.type
class SyncSubscription:
    """Live sync progress."""

    @strawberry.subscription(description="Every progress step and the end of the runs.")
    async def sync_progress(
        self, info: strawberry.Info[Context, Any], integration_id: strawberry.ID
    ) -> AsyncGenerator[SyncRun, None]:
        runs = info.context.services.sync.watch(principal_of(info), str(integration_id))
        async with aclosing(runs):
            async for run in runs:
                yield SyncRun.from_domain(run)
