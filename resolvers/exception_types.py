"""GraphQL types of check exceptions (SPEC §6)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from resolvers.actors import actor
from resolvers.context import Info
from resolvers.enums import graphql_enum
from resolvers.errors import payload, result_field
from resolvers.mapping import mapped
from resolvers.relay import Connection, Edge
from resolvers.types import Actor
from services.check_exceptions.models import CheckException as DomainException
from services.check_exceptions.models import ExceptionStatus
from services.paging import Slice

graphql_enum(
    ExceptionStatus,
    name="CheckExceptionStatus",
    description="Whether an exception currently applies.",
    values={
        ExceptionStatus.ACTIVE: "Applies until `expiresAt`.",
        ExceptionStatus.EXPIRED: "`expiresAt` has passed.",
        ExceptionStatus.REVOKED: "Ended early by an ADMIN.",
    },
)


@strawberry.type(description="One accepted failing item of one check, until `expiresAt`.")
class CheckException:
    id: strawberry.ID = strawberry.field(description="Opaque exception id.")
    check_id: strawberry.ID = strawberry.field(description="The check.")
    resource_id: str = strawberry.field(description="The accepted item's `resourceId`.")
    reason: str = strawberry.field(description="Why the item is accepted (for auditors).")
    expires_at: datetime = strawberry.field(
        description="When the exception stops applying (UTC); the item fails again then."
    )
    created_at: datetime = strawberry.field(description="When it was created (UTC).")
    created_by: strawberry.ID = strawberry.field(description="The API key that created it.")
    revoked_at: datetime | None = strawberry.field(
        description="When it was revoked (UTC); null unless REVOKED."
    )
    revoked_by: strawberry.ID | None = strawberry.field(
        description="The API key that revoked it; null unless REVOKED."
    )
    status: ExceptionStatus = strawberry.field(description="Whether it applies now.")

    @strawberry.field(description="Who created it: the API key's name and role (every role).")
    async def created_by_actor(self, info: Info) -> Actor:
        found = await actor(info, str(self.created_by))
        assert found is not None
        return found

    @strawberry.field(description="Who revoked it (name and role); null unless REVOKED.")
    async def revoked_by_actor(self, info: Info) -> Actor | None:
        return await actor(info, str(self.revoked_by) if self.revoked_by else None)

    @classmethod
    def from_domain(cls, e: DomainException, now: datetime) -> CheckException:
        """Map the domain object, with its status at ``now``."""
        return mapped(cls, e, status=e.status(now))


@strawberry.input(
    description="Accept one failing item (its `resourceId` as the check reports it) until "
    "`expiresAt`."
)
class CreateCheckExceptionInput:
    check_id: strawberry.ID = strawberry.field(description="The check.")
    resource_id: str = strawberry.field(
        description="`resourceId` of one of the check's failing items (1-500 characters)."
    )
    reason: str = strawberry.field(
        description="Why it is accepted; required, at most 2000 characters."
    )
    expires_at: datetime = strawberry.field(
        description="When it stops applying: in the future, at most 365 days ahead."
    )


@payload("The exception created or revoked.")
class CheckExceptionPayload:
    exception: CheckException | None = result_field("The exception after the change")


@strawberry.type(description="An exception and its cursor.")
class CheckExceptionEdge(Edge[CheckException]):
    node: CheckException = strawberry.field(description="The exception.")


@strawberry.type(description="Exceptions, newest first.")
class CheckExceptionConnection(Connection[CheckExceptionEdge]):
    @classmethod
    def of(
        cls, page: Slice[DomainException], now: datetime, after: str | None = None
    ) -> CheckExceptionConnection:
        """Map a service-layer slice."""
        return cls.of_nodes(page, lambda e: CheckException.from_domain(e, now), after)
