"""Remediation actions for tests, as the offboarding check's plan builds them."""

from __future__ import annotations

from typing import Any

from services.remediation.models import (
    OFFBOARDED_CHECK,
    ActionKind,
    ActionSource,
    RemediationAction,
    SourceType,
)


def offboarding_action(
    action_id: str,
    organization_id: str,
    integration_id: str,
    account_id: str,
    *,
    kind: ActionKind = ActionKind.REMOVE_FROM_GROUP,
    group_id: str = "grp-1",
    group_name: str = "confluence-users",
    display_name: str | None = None,
    **fields: Any,
) -> RemediationAction:
    """A planned action for an offboarded person's account, from the offboarding check (by
    default: remove it from confluence-users); ``fields`` set the rest."""
    return RemediationAction(
        id=action_id,
        organization_id=organization_id,
        integration_id=integration_id,
        account_id=account_id,
        display_name=display_name,
        kind=kind,
        group_id=group_id,
        group_name=group_name,
        reason="offboarded",
        source=ActionSource(SourceType.CHECK, check_id=OFFBOARDED_CHECK),
        **fields,
    )
