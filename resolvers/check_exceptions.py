"""Check exceptions: list, create (ADMIN), revoke (ADMIN)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from resolvers.context import Info, principal_of
from resolvers.errors import mutation
from resolvers.exception_types import (
    CheckException,
    CheckExceptionConnection,
    CheckExceptionPayload,
    CreateCheckExceptionInput,
)
from resolvers.relay import After, First


@strawberry.type(description="Reads of check exceptions.")
class ExceptionQuery:
    @strawberry.field(
        description="Exceptions, newest first; only ACTIVE ones by default (every role)."
    )
    async def check_exceptions(
        self,
        info: Info,
        check_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only this check's exceptions."),
        ] = None,
        include_inactive: Annotated[
            bool, strawberry.argument(description="Also EXPIRED and REVOKED ones.")
        ] = False,
        first: First = None,
        after: After = None,
    ) -> CheckExceptionConnection:
        service = info.context.services.check_exceptions
        page = await service.page(
            principal_of(info),
            check_id=str(check_id) if check_id is not None else None,
            include_inactive=include_inactive,
            first=first,
            after=after,
        )
        return CheckExceptionConnection.of(page, service.now(), after)


@strawberry.type(description="Accepting and un-accepting failing items (ADMIN).")
class ExceptionMutation:
    @mutation(
        "Accept one failing item of a check until expiresAt (ADMIN; a reason is "
        "required; at most 365 days). The check is re-evaluated at once."
    )
    async def create_check_exception(
        self,
        info: Info,
        input: Annotated[
            CreateCheckExceptionInput, strawberry.argument(description="Item, reason, expiry.")
        ],
    ) -> CheckExceptionPayload:
        service = info.context.services.check_exceptions
        created = await service.create(
            principal_of(info),
            check_id=str(input.check_id),
            resource_id=input.resource_id,
            reason=input.reason,
            expires_at=input.expires_at,
        )
        return CheckExceptionPayload(exception=CheckException.from_domain(created, service.now()))

    @mutation("End an exception now (ADMIN); the item fails again.")
    async def revoke_check_exception(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The exception id.")],
    ) -> CheckExceptionPayload:
        service = info.context.services.check_exceptions
        revoked = await service.revoke(principal_of(info), str(id))
        return CheckExceptionPayload(exception=CheckException.from_domain(revoked, service.now()))
