"""Remediation actions: what Vigil proposes to call in Atlassian, and what became of it."""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, replace
from datetime import datetime

WRITE_SCOPE = "write:confluence-groups"
OFFBOARDED_CHECK = "confluence-offboarded-access-removed"
VALID_CHECK = "confluence-access-valid"
REMOVE_MEMBER_ENDPOINT = "DELETE /wiki/rest/api/group/userByGroupId"
SUSPEND_ENDPOINT = (
    "POST /admin/v2/orgs/{org_id}/directories/{directory_id}/users/{account_id}/suspend"
)


class ActionKind(enum.StrEnum):
    """The Atlassian call an action makes."""

    REMOVE_FROM_GROUP = "REMOVE_FROM_GROUP"
    SUSPEND_ACCESS = "SUSPEND_ACCESS"


class ActionState(enum.StrEnum):
    """Where an approved action is: queued, called, confirmed by a read-back, or failed."""

    PENDING = "PENDING"
    DONE = "DONE"
    VERIFIED = "VERIFIED"
    FAILED = "FAILED"


class SourceType(enum.StrEnum):
    """Why an action is proposed: a failing check item or a completed review decision."""

    CHECK = "CHECK"
    REVIEW = "REVIEW"


@dataclass(frozen=True, slots=True)
class ActionSource:
    """The check item or review entry an action comes from."""

    type: SourceType
    check_id: str | None = None
    resource_id: str | None = None
    review_id: str | None = None
    entry_id: str | None = None
    decision: str | None = None


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One request Vigil sent to Atlassian for an action, and Atlassian's answer."""

    method: str
    endpoint: str
    status: int | None
    message: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class Verification:
    """The read-back that confirmed (or not) an action's effect."""

    endpoint: str
    confirmed: bool
    detail: str
    at: datetime


@dataclass(frozen=True, slots=True)
class RemediationAction:
    """One call for one account; ``state`` is None while it is only planned.

    REMOVE_FROM_GROUP names its group; SUSPEND_ACCESS (Admin API) carries the organization
    id in ``group_id`` — its directories are looked up when it runs — and "" as group name.
    """

    id: str
    organization_id: str
    integration_id: str
    account_id: str
    display_name: str | None
    kind: ActionKind
    group_id: str
    group_name: str
    reason: str
    source: ActionSource
    executable: bool = True
    blocked_reason: str | None = None
    state: ActionState | None = None
    approved_by: str | None = None
    approved_at: datetime | None = None
    updated_at: datetime | None = None
    calls: tuple[CallRecord, ...] = ()
    verification: Verification | None = None
    error: str | None = None
    evidence_id: str | None = None

    @property
    def request(self) -> str:
        """The exact call, as an administrator reads it."""
        if self.kind is ActionKind.SUSPEND_ACCESS:
            return SUSPEND_ENDPOINT.format(
                org_id=self.group_id, directory_id="{directoryId}", account_id=self.account_id
            ) + (" for each directory of GET /admin/v2/orgs/{orgId}/directories?accountId=…")
        return f"{REMOVE_MEMBER_ENDPOINT}?groupId={self.group_id}&accountId={self.account_id}"

    def blocked(self, reason: str) -> RemediationAction:
        """The same action marked as not executable with what is granted."""
        return replace(self, executable=False, blocked_reason=reason)


def action_id(
    organization_id: str,
    integration_id: str,
    group_id: str,
    account_id: str,
    kind: ActionKind = ActionKind.REMOVE_FROM_GROUP,
) -> str:
    """Stable id of one call ("remove ``account_id`` from ``group_id``", or suspend it)."""
    verb = "remove" if kind is ActionKind.REMOVE_FROM_GROUP else "suspend"
    raw = "\x1f".join((verb, organization_id, integration_id, group_id, account_id))
    return "rem_" + hashlib.sha256(raw.encode()).hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class Claim:
    """An action claimed by one worker: the lease's fencing token guards every write."""

    action: RemediationAction
    token: int
