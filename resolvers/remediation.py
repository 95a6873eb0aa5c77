"""Remediation: ``remediationPlan``, ``executeRemediation``, ``cancelRemediation``,
``restoreAccess``, ``remediations``, ``remediationUpdated``. Every type, field, argument and
enum value is described."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from datetime import datetime
from typing import Annotated

import strawberry

from resolvers.context import Info, principal_of
from resolvers.enums import graphql_enum
from resolvers.errors import UserError, mutation, payload
from resolvers.integration_types import Integration
from resolvers.mapping import mapped
from resolvers.relay import INITIAL, After, Connection, First, PageInfo
from services.errors import DomainError
from services.paging import Slice
from services.remediation import models
from services.remediation.models import ActionKind, ActionState, SourceType
from services.remediation.plan_view import PlanSummary, plan_page, watch_plan
from services.remediation.service import PlanFilter, RemediationService


def _service(info: Info) -> RemediationService:
    service = info.context.services.remediation
    if service is None:
        raise DomainError("remediation is not available in this process", code="UNAVAILABLE")
    return service


graphql_enum(
    ActionKind,
    name="RemediationKind",
    description="What a remediation action changes in Atlassian.",
    values={
        ActionKind.REMOVE_FROM_GROUP: (
            "DELETE /wiki/rest/api/group/userByGroupId: remove the account from a group."
        ),
        ActionKind.SUSPEND_ACCESS: (
            "Admin API: suspend the account's access in each of its directories (offboarding "
            "an unmanaged account; its groups and roles are kept for a restore)."
        ),
        ActionKind.DEACTIVATE_ACCOUNT: (
            "User management API: deactivate a managed account (offboarding)."
        ),
        ActionKind.REVOKE_ROLE: (
            "Admin API roles/revoke: remove a role granted to the account directly."
        ),
        ActionKind.MANUAL_STEP: (
            "Nothing Vigil can call: the exact step an administrator makes by hand "
            "(never executable)."
        ),
        ActionKind.RESTORE_ACCESS: (
            "Admin API: restore the account's access in the directories a Vigil suspension "
            "reached (restoreAccess)."
        ),
        ActionKind.REACTIVATE_ACCOUNT: (
            "User management API: reactivate an account Vigil deactivated (restoreAccess)."
        ),
    },
)


graphql_enum(
    ActionState,
    name="RemediationState",
    description="Where an approved remediation action is.",
    values={
        ActionState.PENDING: "Approved, not yet called.",
        ActionState.CALLING: (
            "Vigil is calling Atlassian (re-checked just before); it can no longer be cancelled."
        ),
        ActionState.DONE: "Atlassian accepted the call; being read back.",
        ActionState.VERIFIED: "A read-back from Atlassian shows the change.",
        ActionState.FAILED: (
            "Atlassian refused the call, or the read-backs did not show the change in time."
        ),
        ActionState.CANCELLED: (
            "Not called: its reason was gone or a guard blocked it when it was re-checked, "
            "or an ADMIN cancelled it (cancelReason says which)."
        ),
    },
)


graphql_enum(
    SourceType,
    name="RemediationSourceType",
    description="Why an action is proposed.",
    values={
        SourceType.CHECK: "A failing item of a check.",
        SourceType.REVIEW: "A REVOKE or DOWNGRADE decision of a completed access review.",
        SourceType.RESTORE: "restoreAccess: undoing a suspension or deactivation by Vigil.",
    },
)


@strawberry.type(description="The check item or review entry an action comes from.")
class RemediationSource:
    type: SourceType = strawberry.field(description="Check item or review entry.")
    check_id: strawberry.ID | None = strawberry.field(description="The failing check (CHECK).")
    resource_id: strawberry.ID | None = strawberry.field(
        description="The failing item's resource, an account id (CHECK)."
    )
    review_id: strawberry.ID | None = strawberry.field(description="The review (REVIEW).")
    entry_id: strawberry.ID | None = strawberry.field(description="The review entry (REVIEW).")
    decision: str | None = strawberry.field(description="REVOKE or DOWNGRADE (REVIEW).")
    action_id: strawberry.ID | None = strawberry.field(
        description="The suspension or deactivation undone (RESTORE)."
    )


@strawberry.type(description="One request Vigil sent to Atlassian and Atlassian's answer.")
class RemediationCall:
    method: str = strawberry.field(description="HTTP method.")
    endpoint: str = strawberry.field(description="The endpoint path (without the query).")
    status: int | None = strawberry.field(
        description="Atlassian's HTTP status (null: no response, e.g. retries exhausted)."
    )
    message: str | None = strawberry.field(
        description="Atlassian's message: the error's, or the `message` of a 2xx answer."
    )
    at: datetime = strawberry.field(description="When the answer arrived.")
    target: str | None = strawberry.field(
        description="What the path named beside the account (the directory of a suspension)."
    )


@strawberry.type(description="One field a read-back saw, as Atlassian names it.")
class RemediationObservation:
    field: str = strawberry.field(
        description="Atlassian's field (membershipStatus, userDirectoryStatus, accountStatus…)."
    )
    value: str = strawberry.field(description="Its value, lower case.")
    scope: str = strawberry.field(
        description=(
            "What the value describes: `organization` (membershipStatus is an organization-wide "
            "aggregate), `directory <id>`, `account`, `group <id>`, `resource <ari>`."
        )
    )


@strawberry.type(description="One read-back of an action's effect.")
class RemediationVerification:
    endpoint: str = strawberry.field(description="What was read back.")
    confirmed: bool = strawberry.field(description="Whether Atlassian shows the change.")
    detail: str = strawberry.field(description="What the read-back showed.")
    at: datetime = strawberry.field(description="When it was read.")
    observed: list[RemediationObservation] = strawberry.field(
        description="The fields it saw, named as Atlassian defines them."
    )


@strawberry.type(description="One change in Atlassian for one account: planned, or approved.")
class RemediationAction:
    id: strawberry.ID = strawberry.field(
        description=(
            "Stable id of the change and of the occurrence of its reason: the same change gets "
            "a new id only when the access comes back after it was VERIFIED."
        )
    )
    account_id: strawberry.ID = strawberry.field(description="The Atlassian account.")
    display_name: str | None = strawberry.field(description="The account's display name.")
    kind: ActionKind = strawberry.field(description="The call made.")
    group_id: strawberry.ID = strawberry.field(
        description=(
            "The group the account leaves (REMOVE_FROM_GROUP); the Atlassian organization id "
            "for the Admin API kinds."
        )
    )
    group_name: str = strawberry.field(
        description="That group's name (empty for every other kind)."
    )
    role: str | None = strawberry.field(description="The role revoked (REVOKE_ROLE).")
    resource_id: str | None = strawberry.field(
        description="The resource (ARI) the role is revoked on (REVOKE_ROLE)."
    )
    request: str = strawberry.field(
        description="The exact call, method, path and query (MANUAL_STEP: `by hand: …`)."
    )
    manual_step: str | None = strawberry.field(
        description="What an administrator must do by hand (MANUAL_STEP)."
    )
    reason: str = strawberry.field(description="Why Vigil proposes it.")
    caveat: str | None = strawberry.field(
        description="What the plan cannot see or do (e.g. direct grants without an Admin API key)."
    )
    source: RemediationSource = strawberry.field(
        description="The check item, review entry, or undone action."
    )
    occurrence: int = strawberry.field(
        description="Which occurrence of the reason it answers (0 first; + 1 each time the access "
        "came back after a VERIFIED change)."
    )
    executable: bool = strawberry.field(
        description="Whether Vigil may make the call now (the guards and the connection allow it)."
    )
    blocked_reason: str | None = strawberry.field(
        description=(
            "Why it is not executable: the grant, a refusal that blocks the connection, the "
            "connection's own account, a group synced from an identity provider, the last "
            "member of an admin group, or a manual step."
        )
    )
    state: ActionState | None = strawberry.field(
        description="Null while only planned; else where the approved action is."
    )
    attempt: int = strawberry.field(
        description="How many times it was approved (re-approving FAILED or CANCELLED runs it "
        "again); 0 while only planned."
    )
    approved_by: strawberry.ID | None = strawberry.field(
        description="The API key of the ADMIN who confirmed it."
    )
    approved_at: datetime | None = strawberry.field(description="When it was confirmed.")
    updated_at: datetime | None = strawberry.field(description="Last state change.")
    version: str = strawberry.field(
        description="Orders the versions of this action a client receives (the mutation's "
        "answer, `remediationUpdated` pushes, the plan): of two, the greater `version` (compare "
        "as strings) is the later state, even when a push overtakes the mutation's answer. "
        "`0` while only planned."
    )
    calls: list[RemediationCall] = strawberry.field(description="Requests sent, oldest first.")
    verification: RemediationVerification | None = strawberry.field(
        description="The last read-back, once made."
    )
    read_backs: list[RemediationVerification] = strawberry.field(
        description="Every read-back of this attempt, oldest first."
    )
    error: str | None = strawberry.field(description="Why it FAILED (Atlassian's answer).")
    cancel_reason: str | None = strawberry.field(description="Why it was CANCELLED.")
    cancelled_by: strawberry.ID | None = strawberry.field(
        description="The API key of the ADMIN who cancelled it (null: the re-check did)."
    )
    evidence_id: strawberry.ID | None = strawberry.field(
        description="The evidence record of the finished action."
    )

    @classmethod
    def from_domain(cls, a: models.RemediationAction) -> RemediationAction:
        """Map the domain object."""
        s, v = a.source, a.verification
        return mapped(
            cls,
            a,
            resource_id=a.resource,
            source=mapped(RemediationSource, s),
            version=_version(a),
            calls=[mapped(RemediationCall, c) for c in a.calls],
            verification=_verification(v) if v else None,
            read_backs=[_verification(r) for r in a.read_backs],
        )


def _verification(v: models.Verification) -> RemediationVerification:
    observed = [mapped(RemediationObservation, o) for o in v.observed]
    return mapped(RemediationVerification, v, observed=observed)


#: States in the order an attempt goes through them (a later state ranks higher).
_STATE_RANK = {ActionState.PENDING: 0, ActionState.CALLING: 1, ActionState.DONE: 2}


def _version(a: models.RemediationAction) -> str:
    """``<updatedAt in ms, 15 digits>.<rank of the state>``: every state change moves
    ``updatedAt`` and an attempt's states only move forward, so at the same millisecond the
    state further along is the later one; a new attempt (approval after FAILED) comes later."""
    if a.state is None or a.updated_at is None:
        return "0"
    ms = int(a.updated_at.timestamp() * 1000)
    return f"{ms:015d}.{_STATE_RANK.get(a.state, 3)}"


@strawberry.input(description="Narrow the remediation plan.")
class RemediationPlanFilter:
    account_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only this account's actions."
    )
    source: SourceType | None = strawberry.field(
        default=None, description="Only actions from checks, or only from reviews."
    )


@strawberry.input(description="Which planned actions to carry out; confirm must be true.")
class ExecuteRemediationInput:
    action_ids: list[strawberry.ID] = strawberry.field(
        description="Ids from remediationPlan (at most 500)."
    )
    confirm: bool = strawberry.field(
        default=False, description="Must be true: nothing is called in Atlassian otherwise."
    )


@payload("The result of executeRemediation.")
class ExecuteRemediationPayload:
    actions: list[RemediationAction] = strawberry.field(
        default_factory=list, description="The approved actions (PENDING until carried out)."
    )
    user_errors: list[UserError] = strawberry.field(
        default_factory=list,
        description="FORBIDDEN, CONFIRMATION_REQUIRED, NOT_FOUND, NOT_GRANTED, VALIDATION_FAILED.",
    )


@strawberry.input(description="Which approved actions to stop before they are called.")
class CancelRemediationInput:
    action_ids: list[strawberry.ID] = strawberry.field(
        description="Ids of PENDING actions (at most 500)."
    )


@payload("The result of cancelRemediation.")
class CancelRemediationPayload:
    actions: list[RemediationAction] = strawberry.field(
        default_factory=list, description="The actions, CANCELLED (or as they already were)."
    )
    user_errors: list[UserError] = strawberry.field(
        default_factory=list,
        description="FORBIDDEN, NOT_FOUND, NOT_CANCELLABLE (already being called or done), "
        "VALIDATION_FAILED.",
    )


@strawberry.input(description="Which Vigil suspension or deactivation to undo; confirm: true.")
class RestoreAccessInput:
    action_id: strawberry.ID = strawberry.field(
        description="A VERIFIED SUSPEND_ACCESS or DEACTIVATE_ACCOUNT action."
    )
    confirm: bool = strawberry.field(
        default=False, description="Must be true: nothing is called in Atlassian otherwise."
    )


@payload("The result of restoreAccess.")
class RestoreAccessPayload:
    action: RemediationAction | None = strawberry.field(
        default=None,
        description="The RESTORE_ACCESS or REACTIVATE_ACCOUNT action (PENDING until carried out).",
    )
    user_errors: list[UserError] = strawberry.field(
        default_factory=list,
        description="FORBIDDEN, CONFIRMATION_REQUIRED, NOT_FOUND, INVALID_STATE, NOT_GRANTED.",
    )


@strawberry.type(description="An approved action and its cursor.")
class RemediationActionEdge:
    node: RemediationAction = strawberry.field(description="The action.")
    cursor: str = strawberry.field(description="Opaque cursor for `after`.")

    @staticmethod
    def of(cursor: str, action: models.RemediationAction) -> RemediationActionEdge:
        """The edge of an action of a service-layer slice."""
        return RemediationActionEdge(node=RemediationAction.from_domain(action), cursor=cursor)


@strawberry.type(description="Approved remediation actions, newest approval first.")
class RemediationActionConnection(Connection[RemediationActionEdge]):
    edges: list[RemediationActionEdge] = strawberry.field(description="This page's actions.")
    page_info: PageInfo = strawberry.field(description="Where this page ends.")
    total_count: int = strawberry.field(description="How many actions were approved in all.")

    @classmethod
    def of(cls, page: Slice[models.RemediationAction]) -> RemediationActionConnection:
        """The connection of a service-layer slice."""
        return cls.of_slice(page, RemediationActionEdge.of)


@strawberry.type(description="The remediation plan's actions, by action id.")
class RemediationPlanConnection(Connection[RemediationActionEdge]):
    total_count: int = strawberry.field(
        description="How many actions the plan has (with the same filter), on every page."
    )

    @classmethod
    def of(
        cls, page: Slice[models.RemediationAction], after: str | None
    ) -> RemediationPlanConnection:
        """The connection of a page of the plan."""
        return cls.of_slice(page, RemediationActionEdge.of, after)


@strawberry.type(description="The remediation plan changed: re-read what is shown.")
class RemediationPlanChange:
    total_count: int = strawberry.field(description="How many actions the plan has now.")
    executable_count: int = strawberry.field(
        description="How many of them are executable and not approved yet."
    )
    in_progress_count: int = strawberry.field(
        description="How many of them are approved and not finished (PENDING or DONE)."
    )
    changed_at: datetime = strawberry.field(description="When the change was seen (UTC).")
    initial: bool = strawberry.field(
        description="True for the first message of `remediationPlanChanged(initial: true)`: "
        "the plan as it is, not a change."
    )

    @classmethod
    def of(cls, summary: PlanSummary) -> RemediationPlanChange:
        """Map the service-layer summary."""
        return mapped(
            cls,
            summary,
            total_count=summary.total,
            executable_count=summary.executable,
            in_progress_count=summary.in_progress,
        )


@strawberry.input(description="Opt in to remediation's writes.")
class EnableConfluenceRemediationInput:
    confirm: bool = strawberry.field(
        default=False, description="Must be true: Vigil will ask Atlassian for write access."
    )


@payload("The result of enableConfluenceRemediation.")
class EnableConfluenceRemediationPayload:
    integration: Integration | None = strawberry.field(
        default=None, description="The ACCESS_REVIEW integration."
    )
    authorization_url: str | None = strawberry.field(
        default=None,
        description="Atlassian's consent page to open (OAuth only); null: nothing to grant.",
    )
    message: str | None = strawberry.field(
        default=None, description="What is possible with what is granted, and what to do."
    )
    user_errors: list[UserError] = strawberry.field(
        default_factory=list,
        description="FORBIDDEN, CONFIRMATION_REQUIRED, NOT_FOUND, NOT_SUPPORTED, NOT_CONFIGURED.",
    )


#: The ``filter`` argument of both plan queries.
_PlanFilterArgument = Annotated[
    RemediationPlanFilter | None,
    strawberry.argument(description="Only some accounts or sources."),
]


def _plan_filter(f: RemediationPlanFilter | None) -> PlanFilter:
    f = f or RemediationPlanFilter()
    return PlanFilter(
        account_id=str(f.account_id) if f.account_id else None,
        source=models.SourceType(f.source.name) if f.source else None,
    )


@strawberry.type
class RemediationQuery:
    """Reads of remediation plans and actions (any role)."""

    @strawberry.field(
        description="What Vigil would call in Atlassian, and why.",
        deprecation_reason="Use remediationPlanActions: the same actions as a connection "
        "(totalCount, paging by action id).",
    )
    async def remediation_plan(
        self,
        info: Info,
        filter: _PlanFilterArgument = None,
    ) -> list[RemediationAction]:
        actions = await _service(info).plan(principal_of(info), _plan_filter(filter))
        return [RemediationAction.from_domain(a) for a in actions]

    @strawberry.field(
        description="What Vigil would call in Atlassian, and why: the plan's actions by action "
        "id, a page at a time, with the state of those already approved (any role). "
        "`remediationPlanChanged` says when to read it again."
    )
    async def remediation_plan_actions(
        self,
        info: Info,
        filter: _PlanFilterArgument = None,
        first: First = None,
        after: After = None,
    ) -> RemediationPlanConnection:
        page = await plan_page(
            _service(info), principal_of(info), _plan_filter(filter), first, after
        )
        return RemediationPlanConnection.of(page, after)

    @strawberry.field(description="Approved remediation actions with their state.")
    async def remediations(
        self,
        info: Info,
        first: Annotated[
            int | None, strawberry.argument(description="Page size (1-500, default 50).")
        ] = None,
        after: Annotated[
            str | None, strawberry.argument(description="Cursor of the last action seen.")
        ] = None,
    ) -> RemediationActionConnection:
        page = await _service(info).list_actions(principal_of(info), first, after)
        return RemediationActionConnection.of(page)


@strawberry.type
class RemediationMutation:
    """Carrying out remediation (ADMIN, with confirm: true)."""

    @mutation("Approve planned actions and carry them out in Atlassian (ADMIN only).")
    async def execute_remediation(
        self,
        info: Info,
        input: Annotated[
            ExecuteRemediationInput, strawberry.argument(description="Actions and confirmation.")
        ],
    ) -> ExecuteRemediationPayload:
        actions = await _service(info).execute(
            principal_of(info), [str(i) for i in input.action_ids], input.confirm
        )
        return ExecuteRemediationPayload(
            actions=[RemediationAction.from_domain(a) for a in actions]
        )

    @mutation(
        "Stop approved actions that are not called yet (ADMIN): they end CANCELLED, with "
        "an evidence record."
    )
    async def cancel_remediation(
        self,
        info: Info,
        input: Annotated[
            CancelRemediationInput, strawberry.argument(description="The actions to stop.")
        ],
    ) -> CancelRemediationPayload:
        actions = await _service(info).cancel(
            principal_of(info), [str(i) for i in input.action_ids]
        )
        return CancelRemediationPayload(actions=[RemediationAction.from_domain(a) for a in actions])

    @mutation(
        "Undo a suspension or deactivation Vigil made, for mistakes (ADMIN, confirm: true): "
        "the account gets back exactly what it had (its groups and roles were kept)."
    )
    async def restore_access(
        self,
        info: Info,
        input: Annotated[
            RestoreAccessInput, strawberry.argument(description="The action and confirmation.")
        ],
    ) -> RestoreAccessPayload:
        action = await _service(info).restore(
            principal_of(info), str(input.action_id), input.confirm
        )
        return RestoreAccessPayload(action=RemediationAction.from_domain(action))

    @mutation(
        "Opt in to remediation (ADMIN): for an OAuth connection, start Atlassian's consent "
        "again with write:confluence-groups; for every connection, lift the blocks a "
        "refusal (not a site admin, a missing scope) put on its writes."
    )
    async def enable_confluence_remediation(
        self,
        info: Info,
        input: Annotated[
            EnableConfluenceRemediationInput,
            strawberry.argument(description="The confirmation."),
        ],
    ) -> EnableConfluenceRemediationPayload:
        consent = info.context.services.remediation_consent
        if consent is None:
            raise DomainError("remediation is not available in this process", code="UNAVAILABLE")
        outcome = await consent.enable(principal_of(info), input.confirm)
        return EnableConfluenceRemediationPayload(
            integration=Integration.from_domain(outcome.integration),
            authorization_url=outcome.authorization_url,
            message=outcome.message,
        )


@strawberry.type
class RemediationSubscription:
    """Live remediation progress."""

    @strawberry.subscription(description="Every state change of an approved action.")
    async def remediation_updated(self, info: Info) -> AsyncGenerator[RemediationAction, None]:
        actions = _service(info).watch(principal_of(info))
        async with aclosing(actions):  # type: ignore[type-var]
            async for action in actions:
                yield RemediationAction.from_domain(action)

    @strawberry.subscription(
        description="Whenever the remediation plan changed (its actions, their states, what "
        "is executable), with its counts (any role): re-read `remediationPlanActions`."
    )
    async def remediation_plan_changed(
        self,
        info: Info,
        initial: Annotated[
            bool, strawberry.argument(description=INITIAL.format(what="the plan's counts"))
        ] = False,
    ) -> AsyncGenerator[RemediationPlanChange, None]:
        summaries = watch_plan(
            info.context.services.bus, _service(info), principal_of(info), initial=initial
        )
        async with aclosing(summaries):
            async for summary in summaries:
                yield RemediationPlanChange.of(summary)
