"""Critical systems: ``criticalSystems``, ``addCriticalSystem``, ``updateCriticalSystem``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from resolvers.context import Info, principal_of
from resolvers.enums import graphql_enum
from resolvers.errors import mutation, payload, result_field
from resolvers.mapping import mapped
from resolvers.relay import Node
from services.reviews import models
from services.reviews.models import AccessRule, SystemKind
from services.reviews.systems import SystemChanges, SystemSettings

graphql_enum(
    SystemKind,
    name="SystemKind",
    description="Systems Vigil can monitor.",
    values={
        SystemKind.CONFLUENCE: "Confluence Cloud (the ACCESS_REVIEW integration's site).",
    },
)


graphql_enum(
    AccessRule,
    name="AccessRule",
    description="Who may have access to a critical system.",
    values={
        AccessRule.ALL_STAFF: "Every ACTIVE person may.",
        AccessRule.ROLE_BASED: (
            "Only people whose `jobRole` is in `allowedRoles` (admins: `adminRoles`)."
        ),
    },
)


@strawberry.type(description="A system under access monitoring and its access rule.")
class CriticalSystem(Node):
    id: strawberry.ID = strawberry.field(description="Opaque critical system id.")
    system: SystemKind = strawberry.field(description="Which system.")
    integration_id: strawberry.ID | None = strawberry.field(
        description="The ACCESS_REVIEW integration its data comes from."
    )
    review_frequency_days: int = strawberry.field(
        description="An access review must complete at least every this many days."
    )
    access_rule: AccessRule = strawberry.field(description="Who may have access.")
    allowed_roles: list[str] = strawberry.field(
        description="Job roles allowed access (ROLE_BASED)."
    )
    admin_roles: list[str] = strawberry.field(
        description="Job roles allowed admin rights (empty: any allowed person)."
    )
    added_at: datetime = strawberry.field(description="When it was added (UTC).")
    updated_at: datetime = strawberry.field(description="When it last changed (UTC).")

    @classmethod
    def from_domain(cls, s: models.CriticalSystem) -> CriticalSystem:
        """Map the domain object."""
        return mapped(cls, s)


_FREQUENCY = "Days between required reviews: 1 to 3650."
_ROLES = "At most 200 job roles of 1-100 characters, compared case-insensitively."


@strawberry.input(
    description="Put a system under access monitoring (needs a connected ACCESS_REVIEW "
    "integration)."
)
class AddCriticalSystemInput:
    system: SystemKind = strawberry.field(
        default=SystemKind.CONFLUENCE, description="Which system; default CONFLUENCE."
    )
    review_frequency_days: int = strawberry.field(
        default=365, description=f"{_FREQUENCY} Default 365."
    )
    access_rule: AccessRule = strawberry.field(
        default=AccessRule.ALL_STAFF, description="Who may have access; default ALL_STAFF."
    )
    allowed_roles: list[str] = strawberry.field(
        default_factory=list,
        description=f"Job roles allowed access: required for ROLE_BASED, empty for ALL_STAFF. "
        f"{_ROLES}",
    )
    admin_roles: list[str] = strawberry.field(
        default_factory=list,
        description=f"Job roles allowed admin rights; empty: no restriction. {_ROLES}",
    )


@strawberry.input(description="Change a critical system; omitted fields keep their value.")
class UpdateCriticalSystemInput:
    critical_system_id: strawberry.ID = strawberry.field(description="The critical system.")
    review_frequency_days: int | None = strawberry.field(default=None, description=_FREQUENCY)
    access_rule: AccessRule | None = strawberry.field(
        default=None, description="Who may have access."
    )
    allowed_roles: list[str] | None = strawberry.field(
        default=None, description=f"Job roles allowed access. {_ROLES}"
    )
    admin_roles: list[str] | None = strawberry.field(
        default=None, description=f"Job roles allowed admin rights. {_ROLES}"
    )

    def to_changes(self) -> SystemChanges:
        """The service-layer change."""
        return mapped(
            SystemChanges,
            self,
            allowed_roles=_tuple(self.allowed_roles),
            admin_roles=_tuple(self.admin_roles),
        )


def _tuple(values: list[str] | None) -> tuple[str, ...] | None:
    return tuple(values) if values is not None else None


@payload("A critical system after a change.")
class CriticalSystemPayload:
    critical_system: CriticalSystem | None = result_field("The system after the change")


@strawberry.type(description="Reads of critical systems.")
class SystemQuery:
    @strawberry.field(description="The organization's critical systems (every role).")
    async def critical_systems(self, info: Info) -> list[CriticalSystem]:
        found = await info.context.services.systems.list_systems(principal_of(info))
        return [CriticalSystem.from_domain(s) for s in found]


@strawberry.type(description="Changes to critical systems (ADMIN).")
class SystemMutation:
    @mutation("Add Confluence as a critical system (ADMIN): turns the access checks on.")
    async def add_critical_system(
        self,
        info: Info,
        input: Annotated[
            AddCriticalSystemInput, strawberry.argument(description="System and access rule.")
        ],
    ) -> CriticalSystemPayload:
        settings = mapped(
            SystemSettings,
            input,
            allowed_roles=tuple(input.allowed_roles),
            admin_roles=tuple(input.admin_roles),
        )
        created = await info.context.services.systems.add(
            principal_of(info), input.system, settings
        )
        return CriticalSystemPayload(critical_system=CriticalSystem.from_domain(created))

    @mutation("Change a critical system's review frequency or access rule (ADMIN).")
    async def update_critical_system(
        self,
        info: Info,
        input: Annotated[UpdateCriticalSystemInput, strawberry.argument(description="Changes.")],
    ) -> CriticalSystemPayload:
        updated = await info.context.services.systems.update(
            principal_of(info), str(input.critical_system_id), input.to_changes()
        )
        return CriticalSystemPayload(critical_system=CriticalSystem.from_domain(updated))
