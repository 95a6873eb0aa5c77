"""The remediation plan: what to change in Atlassian, per account, by intent (ADR 015).

Reasons: the failing items of ``confluence-offboarded-access-removed`` (each confirmed against
the person's status *now*, so a person reactivated a moment ago is not acted on), and the
REVOKE / DOWNGRADE decisions of the Confluence system's latest completed access review.

Intents, over the snapshot account's grants (``access_via``, ``admin_via``):

- **Offboarding, with an Admin API key**: deactivate a managed account (the strongest cut,
  the cleanest evidence), suspend an unmanaged one in every directory. Groups are kept:
  Atlassian's restore gives back "their roles and group memberships". An account the
  directory does not list cannot be suspended: it leaves its groups instead.
- **Offboarding, without a key**: leave every group; a role granted directly can neither be
  seen nor removed without a key (every action says so in ``caveat``).
- **REVOKE**: leave the groups that give the access; a role granted directly is revoked
  (``roles/revoke``, with a key), else the action is the exact manual step. Never a
  suspension or deactivation: that would cut every product, not Confluence.
- **DOWNGRADE**: remove the admin right where it comes from (the admin group, or the role).

Guards make an action non-executable with its reason: what the connection may not do (its
status, its scopes, no key, a refusal that blocks it), the connection's own account, a group
synced from an identity provider (``managedBy`` EXTERNAL on the group, when Atlassian sends
it), the last member of a group that gives admin rights.

An action's id names the change and the occurrence of its reason: once a change is VERIFIED
and a snapshot collected afterwards still shows the access, the access came back and the plan
holds a new action (occurrence + 1) instead of the old VERIFIED one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field, replace
from datetime import datetime
from typing import Protocol

from services.atlassian.directory_admin import confluence_resource
from services.checks.models import CheckResult
from services.identity.directory import CurrentAccounts
from services.identity.models import Classification, Identity
from services.integrations.models import AuthMethod, Integration, IntegrationStatus
from services.models import ClaimStatus
from services.people.models import Person, PersonStatus
from services.remediation.models import (
    ACCESS_ROLE,
    ADMIN_ROLE,
    OFFBOARDED_CHECK,
    WRITE_SCOPE,
    WRITE_SCOPES,
    ActionKind,
    ActionSource,
    ActionState,
    Channel,
    ConnectionState,
    RemediationAction,
    SourceType,
    action_id,
)
from services.reviews.models import (
    AccessDecision,
    AccessReview,
    CriticalSystem,
    ReviewEntry,
    SystemKind,
)
from services.sync.models import Grant, GrantKind, SnapshotAccount, SyncRun

_ENTRY_PAGE = 500
NO_KEY_CAVEAT = (
    "Without an Admin API key Vigil sees Confluence access through group membership only: "
    "a role granted to the account directly can be neither seen nor removed. Add an Admin "
    "API key to the integration, or check the account in Atlassian administration."
)
ADMIN_CONSOLE = "Atlassian administration (admin.atlassian.com)"
_PRODUCT_ROLES = frozenset({ACCESS_ROLE, ADMIN_ROLE, "atlassian/guest"})


class Intent:
    """What a reason asks for."""

    OFFBOARD = "offboard"
    REVOKE = "revoke"
    DOWNGRADE = "downgrade"


@dataclass(frozen=True, slots=True)
class _Wanted:
    source: ActionSource
    reason: str
    intent: str


def grant_problem(integration: Integration) -> str | None:
    """Why the connection cannot make group removals, or None when it may try.

    An API token is not scope-limited when classic, and a scoped one is limited to what it
    was created with, which Vigil cannot read: Atlassian decides (a 401 "scope does not
    match" then blocks the connection's other removals). OAuth grants need the classic
    ``write:confluence-groups`` or the granular ``write:group:confluence`` in the scopes
    Atlassian granted."""
    if integration.status is not IntegrationStatus.CONNECTED:
        return f"the Confluence connection is {integration.status.value}, not CONNECTED"
    if integration.auth_method is AuthMethod.API_TOKEN:
        return None
    if any(scope in integration.granted_scopes for scope in WRITE_SCOPES):
        return None
    return (
        f"the connection's OAuth grant lacks {WRITE_SCOPE} (or write:group:confluence): it "
        "was granted read-only; run enableConfluenceRemediation to consent to it"
    )


def admin_problem(integration: Integration) -> str | None:
    """Why the Admin API calls (suspend, deactivate, revoke a role) cannot be made."""
    if integration.status is not IntegrationStatus.CONNECTED:
        return f"the Confluence connection is {integration.status.value}, not CONNECTED"
    if not integration.has_admin_key or not integration.admin_org_id:
        return "the integration has no Admin API key any more"
    return None


class CheckResultsRepo(Protocol):
    """The ``CheckResultRepository`` methods ``RemediationPlanner`` calls."""

    async def get_latest(self, *, organization_id: str, check_id: str) -> CheckResult | None: ...


class AccessReviewsRepo(Protocol):
    """The ``AccessReviewRepository`` methods ``RemediationPlanner`` calls."""

    async def latest_completed(
        self, *, organization_id: str, critical_system_id: str
    ) -> AccessReview | None: ...
    async def list_entries(
        self, *, review_id: str, decision: AccessDecision | None, limit: int, after: str | None
    ) -> tuple[list[ReviewEntry], int]: ...


class CriticalSystemsRepo(Protocol):
    """The ``CriticalSystemRepository`` methods ``RemediationPlanner`` calls."""

    async def get_by_kind(
        self, *, organization_id: str, system: SystemKind
    ) -> CriticalSystem | None: ...


class SyncRunsRepo(Protocol):
    """The ``SyncRunRepository`` methods ``RemediationPlanner`` calls."""

    async def get_by_snapshot(self, *, snapshot_id: str) -> SyncRun | None: ...


class RemediationsRepo(Protocol):
    """The ``RemediationRepository`` methods ``RemediationPlanner`` calls."""

    async def memberships(
        self, *, snapshot_id: str, account_ids: Sequence[str]
    ) -> dict[str, list[tuple[str, str]]]: ...
    async def synced_groups(self, *, snapshot_id: str, group_ids: Sequence[str]) -> set[str]: ...
    async def latest_occurrences(
        self, *, organization_id: str, call_keys: Sequence[str]
    ) -> dict[str, RemediationAction]: ...
    async def get_many(
        self, *, organization_id: str, action_ids: Sequence[str]
    ) -> dict[str, RemediationAction]: ...
    async def connection(self, *, integration_id: str) -> ConnectionState: ...


class Population(Protocol):
    """The ``Directory`` methods ``RemediationPlanner`` calls (cached, revision-checked)."""

    async def current_accounts(self, organization_id: str) -> CurrentAccounts: ...
    async def people(self, organization_id: str) -> Mapping[str, Person]: ...
    async def identities(self, organization_id: str) -> Mapping[str, Identity]: ...


@dataclass(slots=True)
class _Context:
    organization_id: str
    integration: Integration
    snapshot_id: str
    accounts: dict[str, SnapshotAccount]
    connection: ConnectionState
    collected_from: datetime | None
    memberships: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    synced: set[str] = field(default_factory=set)

    @property
    def admin_org(self) -> str | None:
        integration = self.integration
        return integration.admin_org_id if integration.has_admin_key else None

    def group_ids(self, account_id: str) -> dict[str, str]:
        """The account's groups in the snapshot: name → id."""
        return {name: gid for gid, name in self.memberships.get(account_id, [])}

    def members(self, group_name: str) -> set[str]:
        """Accounts of the snapshot in the group."""
        return {a.account_id for a in self.accounts.values() if group_name in a.groups}


@dataclass(eq=False, repr=False)
class RemediationPlanner:
    """What would be changed, per account, and why (reads only; never calls Atlassian)."""

    population: Population
    _: KW_ONLY
    remediations: RemediationsRepo
    check_results: CheckResultsRepo
    critical_systems: CriticalSystemsRepo
    access_reviews: AccessReviewsRepo
    sync_runs: SyncRunsRepo

    async def plan(self, organization_id: str) -> list[RemediationAction]:
        """The current plan of the organization, each action with its stored state (empty
        without a synced ACCESS_REVIEW integration)."""
        ctx = await self._context(organization_id)
        if ctx is None:
            return []
        wanted = await self._offboarded(organization_id)
        for account_id, item in (await self._decisions(organization_id)).items():
            wanted.setdefault(account_id, item)  # offboarding wins over a review decision
        accounts = {a: ctx.accounts[a] for a in sorted(wanted) if a in ctx.accounts}
        ctx.memberships = await self.remediations.memberships(
            snapshot_id=ctx.snapshot_id, account_ids=sorted(accounts)
        )
        actions: list[RemediationAction] = []
        for account_id, account in accounts.items():
            want = wanted[account_id]
            if want.source.type is SourceType.REVIEW and not account.has_access:
                continue  # the decision is already carried out as far as the snapshot goes
            actions += _intents(ctx, account, want)
        removals = sorted({a.group_id for a in actions if a.kind is ActionKind.REMOVE_FROM_GROUP})
        ctx.synced = await self.remediations.synced_groups(
            snapshot_id=ctx.snapshot_id, group_ids=removals
        )
        actions = await self._occurrences(ctx, actions)
        return _guarded(ctx, actions)

    async def recheck(self, action: RemediationAction) -> str | None:
        """Just before an approved action's call: None when the current plan still holds it
        executable, else why it must not be called (it is then CANCELLED)."""
        if action.source.type is SourceType.RESTORE:
            undone = await self.remediations.get_many(
                organization_id=action.organization_id,
                action_ids=[action.source.action_id or ""],
            )
            original = undone.get(action.source.action_id or "")
            if original is None or original.state is not ActionState.VERIFIED:
                return "the suspension or deactivation it undoes is no longer VERIFIED"
            return None
        plan = await self.plan(action.organization_id)
        fresh = next((a for a in plan if a.call_key == action.call_key), None)
        if fresh is None:
            return await self._why_gone(action)
        if fresh.id != action.id:
            return f"the plan now holds occurrence {fresh.occurrence} of this change ({fresh.id})"
        if not fresh.executable:
            return f"blocked: {fresh.blocked_reason}"
        return None

    async def _context(self, organization_id: str) -> _Context | None:
        current = await self.population.current_accounts(organization_id)
        integration = current.integration
        snapshot_id = integration.current_snapshot_id if integration else None
        if integration is None or snapshot_id is None:
            return None
        run = await self.sync_runs.get_by_snapshot(snapshot_id=snapshot_id)
        collected = run.started_at if run and run.started_at else integration.current_snapshot_at
        return _Context(
            organization_id=organization_id,
            integration=integration,
            snapshot_id=snapshot_id,
            accounts={a.account_id: a for a in current.accounts},
            connection=await self.remediations.connection(integration_id=integration.id),
            collected_from=collected,
        )

    async def _offboarded(self, organization_id: str) -> dict[str, _Wanted]:
        """The offboarding check's failing items whose person is still offboarded now."""
        result = await self.check_results.get_latest(
            organization_id=organization_id, check_id=OFFBOARDED_CHECK
        )
        if result is None or not result.failing_items:
            return {}
        people = await self.population.people(organization_id)
        identities = await self.population.identities(organization_id)
        found = {}
        for item in result.failing_items:
            if _offboarded_person(identities.get(item.resource_id), people) is None:
                continue  # reactivated (or unlinked) since the check ran
            source = ActionSource(
                SourceType.CHECK, check_id=OFFBOARDED_CHECK, resource_id=item.resource_id
            )
            found[item.resource_id] = _Wanted(source, f"offboarded: {item.reason}", Intent.OFFBOARD)
        return found

    async def _decisions(self, organization_id: str) -> dict[str, _Wanted]:
        review = await self._latest_review(organization_id)
        if review is None:
            return {}
        found: dict[str, _Wanted] = {}
        for decision in (AccessDecision.REVOKE, AccessDecision.DOWNGRADE):
            after: str | None = None
            while True:
                entries, _ = await self.access_reviews.list_entries(
                    review_id=review.id, decision=decision, limit=_ENTRY_PAGE, after=after
                )
                for e in entries:
                    who = f" by {e.decided_by}" if e.decided_by else ""
                    source = ActionSource(
                        SourceType.REVIEW,
                        review_id=review.id,
                        entry_id=e.id,
                        decision=decision.value,
                    )
                    reason = f"{decision.value.lower()} decided{who} in access review {review.id}"
                    intent = (
                        Intent.DOWNGRADE if decision is AccessDecision.DOWNGRADE else Intent.REVOKE
                    )
                    found.setdefault(e.account_id, _Wanted(source, reason, intent))
                if len(entries) < _ENTRY_PAGE:
                    break
                after = entries[-1].account_id
        return found

    async def _latest_review(self, organization_id: str) -> AccessReview | None:
        system = await self.critical_systems.get_by_kind(
            organization_id=organization_id, system=SystemKind.CONFLUENCE
        )
        if system is None:
            return None
        return await self.access_reviews.latest_completed(
            organization_id=organization_id, critical_system_id=system.id
        )

    async def _occurrences(
        self, ctx: _Context, actions: list[RemediationAction]
    ) -> list[RemediationAction]:
        """Each planned change as its latest stored occurrence, or a new one when the access
        came back after a VERIFIED occurrence (a snapshot collected since still shows it)."""
        stored = await self.remediations.latest_occurrences(
            organization_id=ctx.organization_id, call_keys=[a.call_key for a in actions]
        )
        out = []
        for planned in actions:
            latest = stored.get(planned.call_key)
            if latest is None:
                out.append(planned)
            elif latest.state is ActionState.VERIFIED and _collected_after(ctx, latest):
                n = latest.occurrence + 1
                new_id = action_id(
                    planned.organization_id,
                    planned.integration_id,
                    planned.target,
                    planned.account_id,
                    planned.kind,
                    n,
                )
                out.append(replace(planned, id=new_id, occurrence=n))
            else:
                out.append(_with_state(replace(planned, id=latest.id), latest))
        return out

    async def _why_gone(self, action: RemediationAction) -> str:
        """Why the current plan no longer holds ``action``'s change (for CANCELLED)."""
        org = action.organization_id
        current = await self.population.current_accounts(org)
        account = next((a for a in current.accounts if a.account_id == action.account_id), None)
        if action.source.type is SourceType.CHECK:
            identities = await self.population.identities(org)
            people = await self.population.people(org)
            identity = identities.get(action.account_id)
            if _offboarded_person(identity, people) is None:
                person = people.get(identity.person_id or "") if identity else None
                if person is not None:
                    return f"{person.email} is no longer offboarded (now {person.status.value})"
                return "the account is no longer linked to an offboarded person"
        elif action.source.type is SourceType.REVIEW:
            review = await self._latest_review(org)
            if review is None or review.id != action.source.review_id:
                return "a newer completed access review replaced the decision"
        if account is None:
            return "the account is no longer in the current snapshot"
        if not account.has_access:
            return "the current snapshot shows the account without Confluence access"
        return "the current plan no longer holds this change (done, or no longer needed)"


def _offboarded_person(identity: Identity | None, people: Mapping[str, Person]) -> Person | None:
    if identity is None or identity.classification is not Classification.STAFF:
        return None
    person = people.get(identity.person_id or "")
    return person if person is not None and person.status is PersonStatus.OFFBOARDED else None


def _collected_after(ctx: _Context, verified: RemediationAction) -> bool:
    """Whether the current snapshot was collected after ``verified`` was confirmed."""
    if ctx.collected_from is None or verified.updated_at is None:
        return False
    return ctx.collected_from > verified.updated_at


def _with_state(planned: RemediationAction, stored: RemediationAction) -> RemediationAction:
    return replace(
        planned,
        occurrence=stored.occurrence,
        state=stored.state,
        attempt=stored.attempt,
        approved_by=stored.approved_by,
        approved_at=stored.approved_at,
        updated_at=stored.updated_at,
        calls=stored.calls,
        read_backs=stored.read_backs,
        error=stored.error,
        cancel_reason=stored.cancel_reason,
        cancelled_by=stored.cancelled_by,
        evidence_id=stored.evidence_id,
    )


# ----- intents ------------------------------------------------------------------------------


def _intents(ctx: _Context, account: SnapshotAccount, want: _Wanted) -> list[RemediationAction]:
    if want.intent == Intent.OFFBOARD:
        return _offboarding(ctx, account, want)
    if want.intent == Intent.REVOKE:
        return _revocation(ctx, account, want)
    return _downgrade(ctx, account, want)


def _offboarding(ctx: _Context, account: SnapshotAccount, want: _Wanted) -> list[RemediationAction]:
    org = ctx.admin_org
    listed = account.directory_status is not None or account.claim_status is not None
    if org and listed:
        if account.claim_status is ClaimStatus.MANAGED:
            kind, what = ActionKind.DEACTIVATE_ACCOUNT, "deactivate the managed account"
        else:
            kind, what = ActionKind.SUSPEND_ACCESS, "suspend its access in every directory"
        return [_action(ctx, account, want, kind, target=org, group_id=org, what=what)]
    actions = [
        _group_removal(ctx, account, want, group_id, name)
        for group_id, name in ctx.memberships.get(account.account_id, [])
    ]
    if org:
        why = "the organization's directory does not list the account (it cannot be suspended)"
        return [replace(a, reason=f"{a.reason} — {why}") for a in actions]
    return [replace(a, caveat=NO_KEY_CAVEAT) for a in actions]


def _revocation(ctx: _Context, account: SnapshotAccount, want: _Wanted) -> list[RemediationAction]:
    return _remove_grants(ctx, account, want, account.access_via, "access")


def _downgrade(ctx: _Context, account: SnapshotAccount, want: _Wanted) -> list[RemediationAction]:
    return _remove_grants(ctx, account, want, account.admin_via, "admin right")


def _remove_grants(
    ctx: _Context,
    account: SnapshotAccount,
    want: _Wanted,
    grants: Sequence[Grant],
    what: str,
) -> list[RemediationAction]:
    """One action per route of a right: leave its group, revoke its direct role, or — when
    neither can be called — the manual step."""
    groups = ctx.group_ids(account.account_id)
    actions: dict[str, RemediationAction] = {}
    for grant in grants:
        if grant.kind is GrantKind.GROUP:
            group_id = grant.group_id or groups.get(grant.group or "")
            if group_id is not None:
                name = grant.group or next((n for n, g in groups.items() if g == group_id), "")
                action = _group_removal(ctx, account, want, group_id, name)
            else:
                step = (
                    f"Atlassian says the {what} comes through a group Vigil could not name: in "
                    f"{ADMIN_CONSOLE}, remove the account from the groups that grant "
                    "Confluence on this site"
                )
                action = _manual(ctx, account, want, "group:?", step)
        else:
            action = _role_revocation(ctx, account, want, grant, what)
        actions.setdefault(action.id, action)
    out = list(actions.values())
    if ctx.admin_org is None:
        out = [replace(a, caveat=NO_KEY_CAVEAT) for a in out]
    return out


def _role_revocation(
    ctx: _Context, account: SnapshotAccount, want: _Wanted, grant: Grant, what: str
) -> RemediationAction:
    role, cloud = grant.role, ctx.integration.site.cloud_id if ctx.integration.site else None
    site = ctx.integration.site.url if ctx.integration.site else "the site"
    # Access granted directly whose role Atlassian did not name: every Confluence role the
    # account holds directly (read from its role assignments when the call is made).
    unnamed = role is None and what == "access"
    if (role in _PRODUCT_ROLES or unnamed) and ctx.admin_org and cloud:
        resource = confluence_resource(cloud)
        shown = role or "each Confluence role"
        return _action(
            ctx,
            account,
            want,
            ActionKind.REVOKE_ROLE,
            target=f"{role or 'direct'}@{resource}",
            group_id=ctx.admin_org,
            what=f"revoke {shown} granted directly",
            role=role,
            resource=resource,
        )
    shown = role or "the role"
    if role in _PRODUCT_ROLES or unnamed:
        why = "Vigil needs an Admin API key to revoke a role granted directly"
    elif role is None:
        why = "Atlassian did not name the role"
    else:
        why = f"{role} is a platform role, not Confluence's"
    step = (
        f"in {ADMIN_CONSOLE} → Directory → Users → {account.display_name or account.account_id}, "
        f"remove {shown} (granted directly: the {what}) on Confluence of {site}; {why}"
    )
    return _manual(ctx, account, want, f"role:{role}", step)


def _group_removal(
    ctx: _Context, account: SnapshotAccount, want: _Wanted, group_id: str, name: str
) -> RemediationAction:
    return _action(
        ctx,
        account,
        want,
        ActionKind.REMOVE_FROM_GROUP,
        target=group_id,
        group_id=group_id,
        group_name=name,
        what=f"remove from group {name}",
    )


def _manual(
    ctx: _Context, account: SnapshotAccount, want: _Wanted, target: str, step: str
) -> RemediationAction:
    action = _action(
        ctx,
        account,
        want,
        ActionKind.MANUAL_STEP,
        target=target,
        group_id=ctx.admin_org or "",
        what="a manual step",
    )
    return replace(action, manual_step=step).blocked(f"Vigil cannot make this change: {step}")


def _action(
    ctx: _Context,
    account: SnapshotAccount,
    want: _Wanted,
    kind: ActionKind,
    *,
    target: str,
    group_id: str,
    what: str,
    group_name: str = "",
    role: str | None = None,
    resource: str | None = None,
) -> RemediationAction:
    integration = ctx.integration
    return RemediationAction(
        id=action_id(ctx.organization_id, integration.id, target, account.account_id, kind),
        organization_id=ctx.organization_id,
        integration_id=integration.id,
        account_id=account.account_id,
        display_name=account.display_name,
        kind=kind,
        group_id=group_id,
        group_name=group_name,
        target=target,
        role=role,
        resource=resource,
        reason=f"{want.reason}: {what}",
        source=want.source,
    )


# ----- guards -------------------------------------------------------------------------------


def _guarded(ctx: _Context, actions: list[RemediationAction]) -> list[RemediationAction]:
    """``actions`` with the guards applied (a guarded action is blocked, with why)."""
    groups = grant_problem(ctx.integration)
    admin = admin_problem(ctx.integration)
    group_refusal = ctx.connection.refusal(Channel.GROUPS)
    admin_refusal = ctx.connection.refusal(Channel.ADMIN)
    self_id = ctx.connection.account_id
    last = _last_admin_members(ctx, actions)
    out = []
    for action in actions:
        if not action.executable:
            out.append(action)
            continue
        problem: str | None
        if action.kind.admin_api:
            problem = admin or (admin_refusal.reason if admin_refusal else None)
        else:
            problem = groups or (group_refusal.reason if group_refusal else None)
        if problem is None and self_id is not None and action.account_id == self_id:
            problem = (
                "this is the account the Confluence connection acts as: changing it would cut "
                "Vigil off. Make the change by hand, or connect Vigil as another account first"
            )
        if (
            problem is None
            and action.kind is ActionKind.REMOVE_FROM_GROUP
            and action.group_id in ctx.synced
        ):
            problem = (
                f"{action.group_name} is synced from an identity provider (managedBy EXTERNAL): "
                "Atlassian does not let its members be changed there, and the next push from "
                "the identity provider would undo it. Remove the account from the group in the "
                "identity provider"
            )
        if problem is None and action.id in last:
            problem = last[action.id]
        out.append(action.blocked(problem) if problem else action)
    return out


def _last_admin_members(ctx: _Context, actions: list[RemediationAction]) -> dict[str, str]:
    """Group removals that would leave a group giving admin rights without a member.

    Per such group, removals already under way (approved, called) count first, then the
    planned ones by account id; the one that would empty the group is blocked."""
    admin_groups: set[str] = set()
    for account in ctx.accounts.values():
        for grant in account.admin_via:
            if grant.kind is GrantKind.GROUP and grant.group:
                admin_groups.add(grant.group)
    removals: dict[str, list[RemediationAction]] = {}
    for a in actions:
        if a.kind is ActionKind.REMOVE_FROM_GROUP and a.group_name in admin_groups:
            removals.setdefault(a.group_name, []).append(a)
    blocked: dict[str, str] = {}
    for name, planned in removals.items():
        remaining = ctx.members(name)
        planned.sort(key=lambda a: (a.state is None, a.account_id))
        for action in planned:
            if remaining <= {action.account_id}:
                blocked[action.id] = (
                    f"{action.account_id} is the last member of {name}, a group that gives "
                    "admin rights: removing it would leave the group without an administrator "
                    "— add another member first, or remove it by hand"
                )
            else:
                remaining = remaining - {action.account_id}
    return blocked
