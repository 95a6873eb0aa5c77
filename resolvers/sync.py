"""Sync runs, their live progress, and the current snapshots' accounts and pages."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Annotated

import strawberry

from resolvers.arguments import AccountId
from resolvers.context import Info, principal_of
from resolvers.errors import mutation
from resolvers.relay import After, First
from resolvers.snapshot_types import (
    Account,
    AccountConnection,
    AccountFilter,
    PageConnection,
    PageFilter,
)
from resolvers.sync_types import SyncRun, SyncRunConnection, SyncRunPayload

IntegrationId = Annotated[
    strawberry.ID,
    strawberry.argument(
        description="The integration; one not in the caller's organization is a NOT_FOUND error."
    ),
]


@strawberry.type(description="Reads of sync runs and of the current snapshots.")
class SyncQuery:
    @strawberry.field(
        description="Sync runs of an integration, newest first (every role). A missing "
        "integration is a NOT_FOUND error."
    )
    async def sync_runs(
        self,
        info: Info,
        integration_id: IntegrationId,
        first: First = None,
        after: After = None,
    ) -> SyncRunConnection:
        page = await info.context.services.sync.list_runs(
            principal_of(info), str(integration_id), first, after
        )
        return SyncRunConnection.of(page, after)

    @strawberry.field(description="One sync run, or null when there is none with this id.")
    async def sync_run(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The run id.")],
    ) -> SyncRun | None:
        run = await info.context.services.sync.get_run(principal_of(info), str(id))
        return SyncRun.from_domain(run) if run else None

    @strawberry.field(
        description="Accounts of the current ACCESS_REVIEW snapshot, by account id (every "
        "role). Empty before the first successful sync."
    )
    async def accounts(
        self,
        info: Info,
        filter: Annotated[
            AccountFilter | None,
            strawberry.argument(description="Only accounts matching every given filter."),
        ] = None,
        first: First = None,
        after: After = None,
    ) -> AccountConnection:
        page = await info.context.services.accounts.accounts(
            principal_of(info), filter.to_domain() if filter else None, first, after
        )
        return AccountConnection.of(page, after)

    @strawberry.field(
        description="One account of the current ACCESS_REVIEW snapshot with its identity, or "
        "null when the snapshot has no such account (every role)."
    )
    async def account(
        self,
        info: Info,
        account_id: AccountId,
    ) -> Account | None:
        view = await info.context.services.accounts.account(principal_of(info), str(account_id))
        return Account.from_view(view) if view else None

    @strawberry.field(
        description="Pages of the current POLICY snapshot, by page id (every role). Empty "
        "before the first successful sync."
    )
    async def confluence_pages(
        self,
        info: Info,
        filter: Annotated[
            PageFilter | None,
            strawberry.argument(description="Only pages matching every given filter."),
        ] = None,
        first: First = None,
        after: After = None,
    ) -> PageConnection:
        page = await info.context.services.snapshots.pages(
            principal_of(info), filter.to_domain() if filter else None, first, after
        )
        return PageConnection.of(page, after)


@strawberry.type(description="Starting syncs (ADMIN).")
class SyncMutation:
    @mutation(
        "Sync a CONNECTED integration now (ADMIN); returns the new QUEUED run, or "
        "the run already in progress. Follow it with `syncProgress`."
    )
    async def trigger_sync(self, info: Info, integration_id: IntegrationId) -> SyncRunPayload:
        run = await info.context.services.sync.trigger(principal_of(info), str(integration_id))
        return SyncRunPayload(sync_run=SyncRun.from_domain(run))


@strawberry.type(description="Live sync progress.")
class SyncSubscription:
    @strawberry.subscription(
        description="The integration's latest run once as it is on subscribing (`initial: "
        "true`; none before any run), then every progress step and the end of its runs "
        "(`initial: false`). A missing integration is a NOT_FOUND error (every role)."
    )
    async def sync_progress(
        self, info: Info, integration_id: IntegrationId
    ) -> AsyncGenerator[SyncRun, None]:
        runs = info.context.services.sync.follow(principal_of(info), str(integration_id))
        async with aclosing(runs):
            async for run, initial in runs:
                yield SyncRun.from_domain(run, initial=initial)
