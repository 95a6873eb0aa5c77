"""An integration's sync settings: interval, the POLICY CQL and the admin group names (ADMIN).

Changes apply from the next sync (the scheduler reads the interval on every tick); they are
published like any integration change, so ``integrationStatusChanged`` subscribers see them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from services.api_keys import require_role
from services.errors import ValidationFailed
from services.integrations.errors import InvalidState
from services.integrations.models import Integration, IntegrationStatus, Purpose
from services.integrations.service import IntegrationService
from services.models import Principal, Role

MIN_INTERVAL_MINUTES = 5
MAX_INTERVAL_MINUTES = 7 * 24 * 60
MAX_CQL = 1000
MAX_GROUPS = 50
MAX_GROUP_NAME = 255


@dataclass(frozen=True, slots=True)
class SettingsChange:
    """What to change; None keeps the current value."""

    sync_interval_minutes: int | None = None
    cql: str | None = None
    admin_groups: Sequence[str] | None = None


async def update_settings(
    integrations: IntegrationService,
    principal: Principal,
    integration_id: str,
    change: SettingsChange,
) -> Integration:
    """Validate and apply ``change`` to one integration of the caller's organization."""
    require_role(principal, Role.ADMIN)
    integration = await integrations.get_or_raise(principal, integration_id)
    if integration.status is IntegrationStatus.DISCONNECTED:
        raise InvalidState("the integration is disconnected", field=["integrationId"])
    fields: dict[str, Any] = {}
    if change.sync_interval_minutes is not None:
        fields["sync_interval_minutes"] = _interval(change.sync_interval_minutes)
    if change.cql is not None:
        fields["cql"] = _cql(integration, change.cql)
    if change.admin_groups is not None:
        fields["admin_groups"] = _groups(integration, change.admin_groups)
    if not fields:
        return integration
    return await integrations.apply_settings(integration, fields)


def _interval(minutes: int) -> int:
    if not MIN_INTERVAL_MINUTES <= minutes <= MAX_INTERVAL_MINUTES:
        raise ValidationFailed(
            f"syncIntervalMinutes must be between {MIN_INTERVAL_MINUTES} and "
            f"{MAX_INTERVAL_MINUTES} (a week)",
            field=["syncIntervalMinutes"],
        )
    return minutes


def _cql(integration: Integration, cql: str) -> str:
    if integration.purpose is not Purpose.POLICY:
        raise ValidationFailed("cql applies to POLICY integrations only", field=["cql"])
    text = cql.strip()
    if not text or len(text) > MAX_CQL:
        raise ValidationFailed(f"cql must be 1-{MAX_CQL} characters", field=["cql"])
    return text


def _groups(integration: Integration, groups: Sequence[str]) -> tuple[str, ...]:
    if integration.purpose is not Purpose.ACCESS_REVIEW:
        raise ValidationFailed(
            "adminGroups apply to ACCESS_REVIEW integrations only", field=["adminGroups"]
        )
    unique: dict[str, str] = {}
    for group in groups:
        name = group.strip()
        if not name or len(name) > MAX_GROUP_NAME:
            raise ValidationFailed(
                f"each group name must be 1-{MAX_GROUP_NAME} characters", field=["adminGroups"]
            )
        unique.setdefault(name.casefold(), name)
    if not 1 <= len(unique) <= MAX_GROUPS:
        raise ValidationFailed(f"give 1 to {MAX_GROUPS} admin group names", field=["adminGroups"])
    return tuple(unique.values())
