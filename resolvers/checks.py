"""Checks: ``checks``, ``check``, ``checkHistory`` and ``checkResultUpdated``."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

import strawberry

from resolvers.check_types import Check, CheckResult, CheckResultConnection
from resolvers.context import Context, principal_of


@strawberry.type
class CheckQuery:
    """Check definitions, latest results and their history."""

    @strawberry.field(description="Every check with its latest result.")
    async def checks(self, info: strawberry.Info[Context, Any]) -> list[Check]:
        views = await info.context.services.checks.list_checks(principal_of(info))
        return [Check.from_view(v) for v in views]

    @strawberry.field(description="One check with its latest result.")
    async def check(self, info: strawberry.Info[Context, Any], id: strawberry.ID) -> Check | None:
        view = await info.context.services.checks.get_check(principal_of(info), str(id))
        return Check.from_view(view) if view else None

    @strawberry.field(description="The recorded changes of a check's result, newest first.")
    async def check_history(
        self,
        info: strawberry.Info[Context, Any],
        check_id: strawberry.ID,
        first: int | None = None,
        after: str | None = None,
    ) -> CheckResultConnection:
        page = await info.context.services.checks.history(
            principal_of(info), str(check_id), first, after
        )
        return CheckResultConnection.of(page)


@strawberry.type
class CheckSubscription:
    """Live check results."""

    @strawberry.subscription(description="Every status or failing-set change (of one check).")
    async def check_result_updated(
        self, info: strawberry.Info[Context, Any], check_id: strawberry.ID | None = None
    ) -> AsyncGenerator[CheckResult, None]:
        results = info.context.services.checks.watch(
            principal_of(info), str(check_id) if check_id is not None else None
        )
        async with aclosing(results):
            async for result in results:
                yield CheckResult.from_domain(result)
