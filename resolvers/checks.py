"""Checks: ``checks``, ``check``, ``checkHistory`` and ``checkResultUpdated``."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Annotated

import strawberry

from resolvers.arguments import CheckId
from resolvers.check_types import Check, CheckResult, CheckResultConnection
from resolvers.context import Info, principal_of
from resolvers.relay import INITIAL, After, First


@strawberry.type(description="Check definitions, latest results and their history.")
class CheckQuery:
    @strawberry.field(
        description="Every check with its latest result, in catalogue order (every role)."
    )
    async def checks(self, info: Info) -> list[Check]:
        views = await info.context.services.checks.list_checks(principal_of(info), paged=True)
        return [Check.from_view(v) for v in views]

    @strawberry.field(
        description="One check with its latest result, or null for an unknown id (every role)."
    )
    async def check(
        self,
        info: Info,
        id: CheckId,
    ) -> Check | None:
        view = await info.context.services.checks.get_check(principal_of(info), str(id), paged=True)
        return Check.from_view(view) if view else None

    @strawberry.field(
        description="The recorded changes of a check's result, newest first (every role). An "
        "unknown check is a NOT_FOUND error."
    )
    async def check_history(
        self,
        info: Info,
        check_id: CheckId,
        first: First = None,
        after: After = None,
    ) -> CheckResultConnection:
        page = await info.context.services.checks.history(
            principal_of(info), str(check_id), first, after
        )
        return CheckResultConnection.of(page, after)


@strawberry.type(description="Live check results.")
class CheckSubscription:
    @strawberry.subscription(
        description="A check's new result at every change of its status, failing or excepted "
        "items (every role). Select `check { id result { id } }` for a normalised cache to "
        "merge it into `checks` (docs/frontend.md)."
    )
    async def check_result_updated(
        self,
        info: Info,
        check_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only this check; omit for every check."),
        ] = None,
        initial: Annotated[
            bool,
            strawberry.argument(
                description=INITIAL.format(
                    what="the current result of each evaluated check (or of `checkId`)"
                )
            ),
        ] = False,
    ) -> AsyncGenerator[CheckResult, None]:
        results = info.context.services.checks.watch(
            principal_of(info), str(check_id) if check_id is not None else None, initial=initial
        )
        async with aclosing(results):
            async for view in results:
                yield CheckResult.from_view(view, latest=True)
