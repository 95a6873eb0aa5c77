"""Remediation actions: what Vigil proposes to change in Atlassian, and what became of it.

An action is one intent for one account (ADR 015): leave a group, revoke a role granted
directly, suspend the account's access in every directory, deactivate a managed account —
or, when none of that is possible, the exact manual step (never executable). Its id names
the call *and* the occurrence it answers: access that returns after a VERIFIED action gets a
new action (occurrence + 1), while re-approving a FAILED or CANCELLED one runs it again
(attempt + 1, one evidence record per attempt).
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

# Removing a group member: the classic scope or the granular one (Atlassian's v1 reference).
WRITE_SCOPE = "write:confluence-groups"
GRANULAR_WRITE_SCOPE = "write:group:confluence"
WRITE_SCOPES = (WRITE_SCOPE, GRANULAR_WRITE_SCOPE)
OFFBOARDED_CHECK = "confluence-offboarded-access-removed"
VALID_CHECK = "confluence-access-valid"
ACCESS_ROLE = "atlassian/user"
ADMIN_ROLE = "atlassian/admin"
REMOVE_MEMBER_ENDPOINT = "DELETE /wiki/rest/api/group/userByGroupId"
SUSPEND_ENDPOINT = (
    "POST /admin/v2/orgs/{org_id}/directories/{directory_id}/users/{account_id}/suspend"
)
RESTORE_ENDPOINT = (
    "POST /admin/v2/orgs/{org_id}/directories/{directory_id}/users/{account_id}/restore"
)
REVOKE_ENDPOINT = "POST /admin/v1/orgs/{org_id}/users/{account_id}/roles/revoke"
DISABLE_ENDPOINT = "POST /users/{account_id}/manage/lifecycle/disable"
ENABLE_ENDPOINT = "POST /users/{account_id}/manage/lifecycle/enable"
_EACH_DIRECTORY = (
    " in each directory of GET /admin/v2/orgs/{org_id}/directories?accountId={account_id}"
)


class ActionKind(enum.StrEnum):
    """What an action changes in Atlassian."""

    REMOVE_FROM_GROUP = "REMOVE_FROM_GROUP"
    SUSPEND_ACCESS = "SUSPEND_ACCESS"
    DEACTIVATE_ACCOUNT = "DEACTIVATE_ACCOUNT"
    REVOKE_ROLE = "REVOKE_ROLE"
    MANUAL_STEP = "MANUAL_STEP"
    RESTORE_ACCESS = "RESTORE_ACCESS"
    REACTIVATE_ACCOUNT = "REACTIVATE_ACCOUNT"

    @property
    def admin_api(self) -> bool:
        """Whether the Admin API key makes the call (else the Confluence connection)."""
        return self not in (ActionKind.REMOVE_FROM_GROUP, ActionKind.MANUAL_STEP)


class ActionState(enum.StrEnum):
    """Where an approved action is.

    PENDING → CALLING → DONE → VERIFIED | FAILED; PENDING → CANCELLED (its reason is gone,
    a guard now blocks it, or an ADMIN cancelled it). VERIFIED, FAILED and CANCELLED are
    final; re-approving FAILED or CANCELLED starts a new attempt."""

    PENDING = "PENDING"
    CALLING = "CALLING"
    DONE = "DONE"
    VERIFIED = "VERIFIED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def final(self) -> bool:
        """VERIFIED, FAILED or CANCELLED."""
        return self in FINAL_STATES


FINAL_STATES = frozenset({ActionState.VERIFIED, ActionState.FAILED, ActionState.CANCELLED})


class SourceType(enum.StrEnum):
    """Why an action is proposed."""

    CHECK = "CHECK"
    REVIEW = "REVIEW"
    RESTORE = "RESTORE"


@dataclass(frozen=True, slots=True)
class ActionSource:
    """The check item, review entry, or (RESTORE) the action undone."""

    type: SourceType
    check_id: str | None = None
    resource_id: str | None = None
    review_id: str | None = None
    entry_id: str | None = None
    decision: str | None = None
    action_id: str | None = None


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One request Vigil sent to Atlassian for an action, and Atlassian's answer."""

    method: str
    endpoint: str
    status: int | None
    message: str | None
    at: datetime
    target: str | None = None  # what the endpoint's path named beyond the account (a directory)


@dataclass(frozen=True, slots=True)
class Observation:
    """One field a read-back saw, named as Atlassian names it, and what it is about.

    ``scope`` says what the value describes: ``organization`` (``membershipStatus`` is an
    organization-wide aggregate), ``directory <id>`` (``userDirectoryStatus`` from role
    assignments), ``account``, ``group <id>``, ``resource <ari>``."""

    field: str
    value: str
    scope: str


@dataclass(frozen=True, slots=True)
class Verification:
    """One read-back of an action's effect: whether it showed the change, and what it saw."""

    endpoint: str
    confirmed: bool
    detail: str
    at: datetime
    observed: tuple[Observation, ...] = ()


@dataclass(frozen=True, slots=True)
class RemediationAction:
    """One change for one account; ``state`` is None while it is only planned.

    ``group_id``/``group_name`` name the group of REMOVE_FROM_GROUP; the Admin API kinds carry
    the Atlassian organization id in ``group_id`` and "" as name (their directories are looked
    up when they run). REVOKE_ROLE names ``role`` and ``resource`` (an ARI). ``call_key`` is
    the same for every occurrence of the same change (the id of occurrence 0)."""

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
    target: str = ""  # what the id hashes beside the account (group id, org id, role@resource…)
    role: str | None = None
    resource: str | None = None
    directories: tuple[str, ...] = ()  # RESTORE_ACCESS: where the undone suspension applied
    occurrence: int = 0
    call_key: str = ""
    executable: bool = True
    blocked_reason: str | None = None
    manual_step: str | None = None
    caveat: str | None = None
    state: ActionState | None = None
    attempt: int = 0
    approved_by: str | None = None
    approved_at: datetime | None = None
    updated_at: datetime | None = None
    calls: tuple[CallRecord, ...] = ()
    read_backs: tuple[Verification, ...] = ()
    error: str | None = None
    cancel_reason: str | None = None
    cancelled_by: str | None = None
    evidence_id: str | None = None

    def __post_init__(self) -> None:
        if not self.call_key:
            object.__setattr__(self, "call_key", self.id)

    @property
    def verification(self) -> Verification | None:
        """The last read-back."""
        return self.read_backs[-1] if self.read_backs else None

    @property
    def request(self) -> str:
        """The exact call, as an administrator reads it."""
        org, account = self.group_id, self.account_id
        each = _EACH_DIRECTORY.format(org_id=org, account_id=account)
        if self.kind is ActionKind.REMOVE_FROM_GROUP:
            return f"{REMOVE_MEMBER_ENDPOINT}?groupId={self.group_id}&accountId={account}"
        if self.kind is ActionKind.SUSPEND_ACCESS:
            return _directory_call(SUSPEND_ENDPOINT, org, account) + each
        if self.kind is ActionKind.RESTORE_ACCESS:
            return _directory_call(RESTORE_ENDPOINT, org, account) + each
        if self.kind is ActionKind.REVOKE_ROLE:
            role = self.role or "<each Confluence role held directly>"
            body = f'{{"role": "{role}", "resource": "{self.resource}"}}'
            return REVOKE_ENDPOINT.format(org_id=org, account_id=account) + " " + body
        if self.kind is ActionKind.DEACTIVATE_ACCOUNT:
            return DISABLE_ENDPOINT.format(account_id=account)
        if self.kind is ActionKind.REACTIVATE_ACCOUNT:
            return ENABLE_ENDPOINT.format(account_id=account)
        return f"by hand: {self.manual_step or self.reason}"

    def blocked(self, reason: str) -> RemediationAction:
        """The same action marked as not executable, with why."""
        return replace(self, executable=False, blocked_reason=reason)


def _directory_call(template: str, org_id: str, account_id: str) -> str:
    return template.format(org_id=org_id, directory_id="{directoryId}", account_id=account_id)


_VERBS = {
    ActionKind.REMOVE_FROM_GROUP: "remove",
    ActionKind.SUSPEND_ACCESS: "suspend",
    ActionKind.DEACTIVATE_ACCOUNT: "deactivate",
    ActionKind.REVOKE_ROLE: "revoke",
    ActionKind.MANUAL_STEP: "manual",
    ActionKind.RESTORE_ACCESS: "restore",
    ActionKind.REACTIVATE_ACCOUNT: "reactivate",
}


def action_id(
    organization_id: str,
    integration_id: str,
    target: str,
    account_id: str,
    kind: ActionKind = ActionKind.REMOVE_FROM_GROUP,
    occurrence: int = 0,
) -> str:
    """Stable id of one change of one account, for one occurrence of its reason.

    ``target`` is what the change is about (a group id, the Atlassian organization id, a
    role on a resource, the undone action's id). Occurrence 0 hashes exactly what ids did
    before occurrences existed, so stored actions keep their ids."""
    parts = [_VERBS[kind], organization_id, integration_id, target, account_id]
    if occurrence:
        parts.append(f"occurrence:{occurrence}")
    raw = "\x1f".join(parts)
    return "rem_" + hashlib.sha256(raw.encode()).hexdigest()[:24]


def evidence_key(action: RemediationAction) -> str:
    """What makes an action's evidence record unique: one record per action and attempt."""
    return f"remediation:{action.id}:{action.attempt}"


@dataclass(frozen=True, slots=True)
class Claim:
    """An action claimed by one worker: the lease's fencing token guards every write."""

    action: RemediationAction
    token: int


@dataclass(frozen=True, slots=True)
class ActionStep:
    """What a worker records when it moves a claimed action on: the new state, the calls made
    and the read-back seen (appended to the action's), and why it failed or was cancelled."""

    state: ActionState
    calls: Sequence[CallRecord] = ()
    read_back: Verification | None = None
    error: str | None = None
    cancel_reason: str | None = None


class Channel(enum.StrEnum):
    """Which credential of a connection makes a write: the Confluence connection (group
    removals) or the Admin API key (suspension, deactivation, roles)."""

    GROUPS = "GROUPS"
    ADMIN = "ADMIN"


@dataclass(frozen=True, slots=True)
class Refusal:
    """Atlassian refused a connection's writes in a way that will not pass by itself (not a
    site admin, a scope the credential lacks): the remaining writes of that channel are
    blocked with ``reason`` until an ADMIN runs ``enableConfluenceRemediation`` again."""

    channel: Channel
    reason: str
    status: int | None
    message: str
    at: datetime
    action_id: str


@dataclass(frozen=True, slots=True)
class ConnectionState:
    """What remediation learnt about one integration's connection: the account it acts as
    (from ``user/current``) and the refusals that block its writes."""

    integration_id: str
    account_id: str | None = None
    refusals: tuple[Refusal, ...] = ()

    def refusal(self, channel: Channel) -> Refusal | None:
        """The refusal blocking ``channel``, if any."""
        return next((r for r in self.refusals if r.channel is channel), None)
