"""Critical systems: ``criticalSystems``, ``addCriticalSystem``, ``updateCriticalSystem``."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry

from resolvers.context import Context, principal_of
from resolvers.errors import UserError, user_errors
from services.errors import DomainError
from services.reviews import models
from services.reviews.systems import SystemChanges, SystemSettings


@strawberry.enum
class SystemKind(Enum):
    """Systems Vigil can monitor."""

    CONFLUENCE = "CONFLUENCE"


@strawberry.enum
class AccessRule(Enum):
    """Who may have access to a critical system."""

    ALL_STAFF = "ALL_STAFF"
    ROLE_BASED = "ROLE_BASED"


@strawberry.type
class CriticalSystem:
    """A system under access monitoring and its access rule."""

    id: strawberry.ID
    system: SystemKind
    integration_id: strawberry.ID | None
    review_frequency_days: int
    access_rule: AccessRule
    allowed_roles: list[str]
    admin_roles: list[str]
    added_at: datetime
    updated_at: datetime

    @classmethod
    def from_domain(cls, s: models.CriticalSystem) -> CriticalSystem:
        """Map the domain object."""
        return cls(
            id=strawberry.ID(s.id),
            system=SystemKind(s.system.value),
            integration_id=strawberry.ID(s.integration_id) if s.integration_id else None,
            review_frequency_days=s.review_frequency_days,
            access_rule=AccessRule(s.access_rule.value),
            allowed_roles=list(s.allowed_roles),
            admin_roles=list(s.admin_roles),
            added_at=s.added_at,
            updated_at=s.updated_at,
        )


@strawberry.input
class AddCriticalSystemInput:
    """Put a system under access monitoring (needs a connected ACCESS_REVIEW integration)."""

    system: SystemKind = SystemKind.CONFLUENCE
    review_frequency_days: int = 365
    access_rule: AccessRule = AccessRule.ALL_STAFF
    allowed_roles: list[str] = strawberry.field(default_factory=list)
    admin_roles: list[str] = strawberry.field(default_factory=list)


@strawberry.input
class UpdateCriticalSystemInput:
    """Change a critical system; omitted fields keep their value."""

    critical_system_id: strawberry.ID
    review_frequency_days: int | None = None
    access_rule: AccessRule | None = None
    allowed_roles: list[str] | None = None
    admin_roles: list[str] | None = None

    def to_changes(self) -> SystemChanges:
        """The service-layer change."""
        return SystemChanges(
            review_frequency_days=self.review_frequency_days,
            access_rule=models.AccessRule(self.access_rule.value) if self.access_rule else None,
            allowed_roles=_tuple(self.allowed_roles),
            admin_roles=_tuple(self.admin_roles),
        )


def _tuple(values: list[str] | None) -> tuple[str, ...] | None:
    return tuple(values) if values is not None else None


@strawberry.type
class CriticalSystemPayload:
    """A critical system after a change."""

    critical_system: CriticalSystem | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class SystemQuery:
    """Reads of critical systems."""

    @strawberry.field(description="The organization's critical systems.")
    async def critical_systems(self, info: strawberry.Info[Context, Any]) -> list[CriticalSystem]:
        found = await info.context.services.systems.list_systems(principal_of(info))
        return [CriticalSystem.from_domain(s) for s in found]


@strawberry.type
class SystemMutation:
    """Changes to critical systems (ADMIN)."""

    @strawberry.mutation(description="Add Confluence as a critical system: turns access checks on.")
    async def add_critical_system(
        self, info: strawberry.Info[Context, Any], input: AddCriticalSystemInput
    ) -> CriticalSystemPayload:
        settings = SystemSettings(
            review_frequency_days=input.review_frequency_days,
            access_rule=models.AccessRule(input.access_rule.value),
            allowed_roles=tuple(input.allowed_roles),
            admin_roles=tuple(input.admin_roles),
        )
        try:
            created = await info.context.services.systems.add(
                principal_of(info), models.SystemKind(input.system.value), settings
            )
        except DomainError as exc:
            return CriticalSystemPayload(user_errors=user_errors(exc))
        return CriticalSystemPayload(critical_system=CriticalSystem.from_domain(created))

    @strawberry.mutation(description="Change a critical system's review frequency or access rule.")
    async def update_critical_system(
        self, info: strawberry.Info[Context, Any], input: UpdateCriticalSystemInput
    ) -> CriticalSystemPayload:
        try:
            updated = await info.context.services.systems.update(
                principal_of(info), str(input.critical_system_id), input.to_changes()
            )
        except DomainError as exc:
            return CriticalSystemPayload(user_errors=user_errors(exc))
        return CriticalSystemPayload(critical_system=CriticalSystem.from_domain(updated))
