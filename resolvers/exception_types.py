"""GraphQL types of check exceptions (SPEC §6)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from resolvers.errors import UserError
from resolvers.relay import PageInfo
from services.exception_models import CheckException as DomainException
from services.paging import Slice


@strawberry.enum
class CheckExceptionStatus(Enum):
    """Whether an exception currently applies."""

    ACTIVE = "ACTIVE"
    EXPIRED = "EXPIRED"
    REVOKED = "REVOKED"


@strawberry.type
class CheckException:
    """One accepted failing item of one check, until ``expiresAt``."""

    id: strawberry.ID
    check_id: strawberry.ID
    resource_id: str
    reason: str
    expires_at: datetime
    created_at: datetime
    created_by: strawberry.ID = strawberry.field(description="The API key that created it.")
    revoked_at: datetime | None
    revoked_by: strawberry.ID | None
    status: CheckExceptionStatus

    @classmethod
    def from_domain(cls, e: DomainException, now: datetime) -> CheckException:
        """Map the domain object, with its status at ``now``."""
        return cls(
            id=strawberry.ID(e.id),
            check_id=strawberry.ID(e.check_id),
            resource_id=e.resource_id,
            reason=e.reason,
            expires_at=e.expires_at,
            created_at=e.created_at,
            created_by=strawberry.ID(e.created_by),
            revoked_at=e.revoked_at,
            revoked_by=strawberry.ID(e.revoked_by) if e.revoked_by else None,
            status=CheckExceptionStatus(e.status(now).value),
        )


@strawberry.input
class CreateCheckExceptionInput:
    """Accept one failing item (``resourceId`` as the check reports it) until ``expiresAt``."""

    check_id: strawberry.ID
    resource_id: str
    reason: str
    expires_at: datetime = strawberry.field(description="At most 365 days ahead.")


@strawberry.type
class CheckExceptionPayload:
    """The exception created or revoked."""

    exception: CheckException | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CheckExceptionEdge:
    """An exception and its cursor."""

    cursor: str
    node: CheckException


@strawberry.type
class CheckExceptionConnection:
    """Exceptions, newest first."""

    edges: list[CheckExceptionEdge]
    page_info: PageInfo
    total_count: int

    @classmethod
    def of(cls, page: Slice[DomainException], now: datetime) -> CheckExceptionConnection:
        """Map a service-layer slice."""
        return cls(
            edges=[
                CheckExceptionEdge(cursor=c, node=CheckException.from_domain(e, now))
                for c, e in page.items
            ],
            page_info=PageInfo.of(page),
            total_count=page.total_count,
        )
