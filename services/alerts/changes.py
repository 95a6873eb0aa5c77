"""Which changes are worth an alert, and the alert each one makes (pure functions).

- A check's status turning FAILING or ERROR, or back to PASSING from either: one alert per
  recorded result (its key is the result's id, new at every recorded change, so the same
  result published twice is one alert). Changes of the items alone, and NOT_MONITORED, are
  not alerts.
- A sync run that FAILED: one alert per run.
- A remediation action that FAILED: one alert per approval of the action (approving it
  again after a failure is a new attempt, which may fail again).
"""

from __future__ import annotations

from datetime import datetime

from services.alerts.models import Alert, AlertKind, Channel
from services.checks.base import Evaluation
from services.checks.models import CheckStatus
from services.integrations.models import Integration
from services.remediation.models import ActionKind, RemediationAction
from services.sync.models import SyncRun

BAD = frozenset({CheckStatus.FAILING, CheckStatus.ERROR})
NAMED_ITEMS = 5  # failing items named in an alert's detail
LISTED_ITEMS = 10  # failing items listed in an alert's JSON


def check_alert(evaluation: Evaluation) -> Alert | None:
    """The alert for a recorded check result, or None when its status change is not one."""
    result = evaluation.result
    if not evaluation.changed or not evaluation.status_changed or result.id is None:
        return None
    previous = evaluation.previous.status if evaluation.previous is not None else None
    if result.status not in BAD and not (result.status is CheckStatus.PASSING and previous in BAD):
        return None
    title = evaluation.check.title
    summary = f"{title}: {result.status.value}"
    if previous is not None:
        summary += f" (was {previous.value})"
    failing = result.failing_items
    detail = result.reason
    if failing:
        names = ", ".join(i.name or i.resource_id for i in failing[:NAMED_ITEMS])
        more = f" and {len(failing) - NAMED_ITEMS} more" if len(failing) > NAMED_ITEMS else ""
        detail = f"{detail + '. ' if detail else ''}Failing: {names}{more}"
    return Alert(
        key=f"check:{result.check_id}:{result.id}",
        organization_id=result.organization_id,
        kind=AlertKind.CHECK_STATUS_CHANGED,
        at=result.changed_at,
        summary=summary,
        detail=detail,
        fields={
            "checkId": result.check_id,
            "checkTitle": title,
            "status": result.status.value,
            "previousStatus": previous.value if previous is not None else None,
            "failingCount": len(failing),
            "failingItems": [i.to_json() for i in failing[:LISTED_ITEMS]],
            "resultId": result.id,
            "evidenceId": result.evidence_id,
        },
    )


def sync_alert(integration: Integration, run: SyncRun, at: datetime) -> Alert:
    """The alert for a FAILED sync run."""
    site = integration.site.url if integration.site is not None else None
    where = f" ({site})" if site else ""
    return Alert(
        key=f"sync:{run.id}",
        organization_id=integration.organization_id,
        kind=AlertKind.SYNC_FAILED,
        at=run.finished_at or at,
        summary=f"Sync of the {integration.purpose.value} integration{where} failed",
        detail=run.error,
        fields={
            "integrationId": integration.id,
            "purpose": integration.purpose.value,
            "site": site,
            "syncRunId": run.id,
            "errorEndpoint": run.error_endpoint,
        },
    )


def remediation_alert(action: RemediationAction, at: datetime) -> Alert:
    """The alert for a FAILED remediation action."""
    who = action.display_name or action.account_id
    what = (
        f"suspend {who}"
        if action.kind is ActionKind.SUSPEND_ACCESS
        else f"remove {who} from {action.group_name or action.group_id}"
    )
    approved = action.approved_at.isoformat() if action.approved_at else "-"
    return Alert(
        key=f"remediation:{action.id}:{approved}",
        organization_id=action.organization_id,
        kind=AlertKind.REMEDIATION_FAILED,
        at=action.updated_at or at,
        summary=f"Remediation failed: {what}",
        detail=action.error,
        fields={
            "remediationActionId": action.id,
            "actionKind": action.kind.value,
            "accountId": action.account_id,
            "groupId": action.group_id if action.kind is ActionKind.REMOVE_FROM_GROUP else None,
            "groupName": action.group_name or None,
            "integrationId": action.integration_id,
        },
    )


def test_alert(channel: Channel, key: str, at: datetime) -> Alert:
    """What ``sendTestAlert`` sends."""
    return Alert(
        key=key,
        organization_id=channel.organization_id,
        kind=AlertKind.TEST,
        at=at,
        summary=f"Test alert for channel {channel.name}",
        detail="Vigil can reach this channel. Nothing changed.",
        fields={"channelId": channel.id},
    )
