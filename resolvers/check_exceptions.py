"""Check exceptions: list, create (ADMIN), revoke (ADMIN)."""

from __future__ import annotations

from typing import Any

import strawberry

from resolvers.context import Context, principal_of
from resolvers.errors import user_errors
from resolvers.exception_types import (
    CheckException,
    CheckExceptionConnection,
    CheckExceptionPayload,
    CreateCheckExceptionInput,
)
from services.errors import DomainError


@strawberry.type
class ExceptionQuery:
    """Reads of exceptions."""

    @strawberry.field(description="Exceptions, newest first; only active ones by default.")
    async def check_exceptions(
        self,
        info: strawberry.Info[Context, Any],
        check_id: strawberry.ID | None = None,
        include_inactive: bool = False,
        first: int | None = None,
        after: str | None = None,
    ) -> CheckExceptionConnection:
        service = info.context.services.exceptions
        page = await service.page(
            principal_of(info),
            check_id=str(check_id) if check_id is not None else None,
            include_inactive=include_inactive,
            first=first,
            after=after,
        )
        return CheckExceptionConnection.of(page, service.now())


@strawberry.type
class ExceptionMutation:
    """Accepting and un-accepting failing items (ADMIN)."""

    @strawberry.mutation(
        description="Accept one failing item of a check until expiresAt (ADMIN; a reason is "
        "required; at most 365 days)."
    )
    async def create_check_exception(
        self, info: strawberry.Info[Context, Any], input: CreateCheckExceptionInput
    ) -> CheckExceptionPayload:
        service = info.context.services.exceptions
        try:
            created = await service.create(
                principal_of(info),
                check_id=str(input.check_id),
                resource_id=input.resource_id,
                reason=input.reason,
                expires_at=input.expires_at,
            )
        except DomainError as exc:
            return CheckExceptionPayload(user_errors=user_errors(exc))
        return CheckExceptionPayload(exception=CheckException.from_domain(created, service.now()))

    @strawberry.mutation(description="End an exception now (ADMIN).")
    async def revoke_check_exception(
        self, info: strawberry.Info[Context, Any], id: strawberry.ID
    ) -> CheckExceptionPayload:
        service = info.context.services.exceptions
        try:
            revoked = await service.revoke(principal_of(info), str(id))
        except DomainError as exc:
            return CheckExceptionPayload(user_errors=user_errors(exc))
        return CheckExceptionPayload(exception=CheckException.from_domain(revoked, service.now()))
