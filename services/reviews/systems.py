"""Critical systems: which systems are under access monitoring, with which rule (SPEC §5)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass
from typing import Protocol

from services.api_keys import require_role
from services.callbacks import OnChange, ignore_change
from services.errors import AlreadyExists, Conflict, NotFound, ValidationFailed
from services.integrations.models import Integration, IntegrationStatus, Purpose
from services.models import Principal, Role
from services.reviews.models import (
    AccessRule,
    CriticalSystem,
    SystemKind,
    SystemSettings,
    role_key,
)

MAX_ROLES = 200
MAX_ROLE = 100
MAX_FREQUENCY_DAYS = 3650


@dataclass(frozen=True, slots=True)
class SystemChanges:
    """What an update changes; None keeps the current value."""

    review_frequency_days: int | None = None
    access_rule: AccessRule | None = None
    allowed_roles: tuple[str, ...] | None = None
    admin_roles: tuple[str, ...] | None = None

    def applied_to(self, current: CriticalSystem) -> SystemSettings:
        """The settings after the change."""
        days = self.review_frequency_days
        return SystemSettings(
            review_frequency_days=days if days is not None else current.review_frequency_days,
            access_rule=self.access_rule or current.access_rule,
            allowed_roles=_given(self.allowed_roles, current.allowed_roles),
            admin_roles=_given(self.admin_roles, current.admin_roles),
        )


def _given(value: tuple[str, ...] | None, current: tuple[str, ...]) -> tuple[str, ...]:
    return value if value is not None else current


class CriticalSystemsRepo(Protocol):
    """The ``CriticalSystemRepository`` methods ``CriticalSystemService`` calls."""

    async def create(
        self,
        *,
        organization_id: str,
        system: SystemKind,
        integration_id: str | None,
        settings: SystemSettings,
    ) -> CriticalSystem: ...
    async def get(self, *, organization_id: str, system_id: str) -> CriticalSystem | None: ...
    async def list_by_organization(self, *, organization_id: str) -> list[CriticalSystem]: ...
    async def update(
        self,
        *,
        organization_id: str,
        system_id: str,
        settings: SystemSettings,
    ) -> CriticalSystem | None: ...


class IntegrationsRepo(Protocol):
    """The ``IntegrationRepository`` methods ``CriticalSystemService`` calls."""

    async def get_live_for_purpose(
        self, *, organization_id: str, purpose: Purpose
    ) -> Integration | None: ...


@dataclass(eq=False, repr=False)
class CriticalSystemService:
    """Adds and changes critical systems (ADMIN); anyone in the organization may read them."""

    _: KW_ONLY
    critical_systems: CriticalSystemsRepo
    integrations: IntegrationsRepo
    on_systems_changed: OnChange = ignore_change

    async def add(
        self, principal: Principal, system: SystemKind, settings: SystemSettings
    ) -> CriticalSystem:
        """Put a system under monitoring; needs a connected ACCESS_REVIEW integration."""
        require_role(principal, Role.ADMIN)
        settings = checked(settings)
        org = principal.organization_id
        integration = await self.integrations.get_live_for_purpose(
            organization_id=org, purpose=Purpose.ACCESS_REVIEW
        )
        if integration is None or integration.status is not IntegrationStatus.CONNECTED:
            raise Conflict(
                "connect Confluence for ACCESS_REVIEW before adding it as a critical system",
                field=["input", "system"],
                code="NOT_CONNECTED",
            )
        try:
            created = await self.critical_systems.create(
                organization_id=org,
                system=system,
                integration_id=integration.id,
                settings=settings,
            )
        except AlreadyExists:
            raise Conflict(
                f"{system.value} is already a critical system; update it instead",
                field=["input", "system"],
                code="ALREADY_EXISTS",
            ) from None
        await self.on_systems_changed(org)
        return created

    async def update(
        self, principal: Principal, system_id: str, changes: SystemChanges
    ) -> CriticalSystem:
        """Change a system's review frequency and access rule (ADMIN)."""
        require_role(principal, Role.ADMIN)
        current = await self.get(principal, system_id)
        if current is None:
            raise NotFound(
                f"critical system {system_id} not found", field=["input", "criticalSystemId"]
            )
        settings = checked(changes.applied_to(current))
        updated = await self.critical_systems.update(
            organization_id=principal.organization_id,
            system_id=system_id,
            settings=settings,
        )
        if updated is None:
            raise NotFound(
                f"critical system {system_id} not found", field=["input", "criticalSystemId"]
            )
        await self.on_systems_changed(principal.organization_id)
        return updated

    async def get(self, principal: Principal, system_id: str) -> CriticalSystem | None:
        """One critical system of the caller's organization."""
        return await self.critical_systems.get(
            organization_id=principal.organization_id, system_id=system_id
        )

    async def list_systems(self, principal: Principal) -> list[CriticalSystem]:
        """The caller's organization's critical systems."""
        return await self.critical_systems.list_by_organization(
            organization_id=principal.organization_id
        )


def checked(settings: SystemSettings) -> SystemSettings:
    """Validated, normalised settings (roles trimmed and de-duplicated case-insensitively)."""
    days = settings.review_frequency_days
    if not 1 <= days <= MAX_FREQUENCY_DAYS:
        raise ValidationFailed(
            f"reviewFrequencyDays must be between 1 and {MAX_FREQUENCY_DAYS}",
            field=["input", "reviewFrequencyDays"],
        )
    allowed = _roles(settings.allowed_roles, "allowedRoles")
    admin = _roles(settings.admin_roles, "adminRoles")
    if settings.access_rule is AccessRule.ROLE_BASED and not allowed:
        raise ValidationFailed(
            "ROLE_BASED needs at least one allowed role", field=["input", "allowedRoles"]
        )
    if settings.access_rule is AccessRule.ALL_STAFF and allowed:
        raise ValidationFailed(
            "allowedRoles apply to ROLE_BASED only; ALL_STAFF allows every active staff member",
            field=["input", "allowedRoles"],
        )
    return SystemSettings(days, settings.access_rule, allowed, admin)


def _roles(roles: Sequence[str], field: str) -> tuple[str, ...]:
    if len(roles) > MAX_ROLES:
        raise ValidationFailed(f"at most {MAX_ROLES} roles", field=["input", field])
    unique: dict[str, str] = {}
    for role in roles:
        text = role.strip()
        if not text or len(text) > MAX_ROLE:
            raise ValidationFailed(
                f"each role must be 1-{MAX_ROLE} characters", field=["input", field]
            )
        unique.setdefault(role_key(text), text)
    return tuple(unique.values())


__all__ = [
    "MAX_FREQUENCY_DAYS",
    "MAX_ROLE",
    "MAX_ROLES",
    "CriticalSystemService",
    "CriticalSystemsRepo",
    "IntegrationsRepo",
    "SystemChanges",
    "SystemSettings",
    "checked",
]
