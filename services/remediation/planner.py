"""Building the remediation plan from failing check items and completed review decisions.

Which groups "give Confluence access"? Vigil's snapshot lists every group of the site and
the accounts in them; an account is in the snapshot (and judged by the access checks) only
through its group memberships. Vigil cannot see which groups Atlassian's product-access
configuration maps to Confluence, so REVOKE and offboarding remove the account from *every*
group the current snapshot lists it in — the honest superset; after that the account leaves
the snapshot and the checks stop failing for it. DOWNGRADE removes only the integration's
admin groups (``Integration.admin_groups``, the same list the checks use for ``isAdmin``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from services.checks.models import CheckResult
from services.integrations.models import AuthMethod, Integration, IntegrationStatus, Purpose
from services.remediation.models import (
    OFFBOARDED_CHECK,
    WRITE_SCOPE,
    ActionKind,
    ActionSource,
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
from services.sync.models import SnapshotAccount
from services.sync.reads import SnapshotReader

_ENTRY_PAGE = 500


@dataclass(frozen=True, slots=True)
class _Wanted:
    source: ActionSource
    reason: str
    admin_only: bool


def grant_problem(integration: Integration) -> str | None:
    """Why the connection cannot make the write calls, or None when it may try.

    An API token (Basic) is not scope-limited: Atlassian decides by the account's role
    (site admin), and a refusal is the action's 403. OAuth grants (3LO and client
    credentials) need ``write:confluence-groups`` in the scopes Atlassian granted.
    """
    if integration.status is not IntegrationStatus.CONNECTED:
        return f"the Confluence connection is {integration.status.value}, not CONNECTED"
    if integration.auth_method is AuthMethod.API_TOKEN:
        return None
    if WRITE_SCOPE in integration.granted_scopes:
        return None
    return (
        f"the connection's OAuth grant lacks {WRITE_SCOPE} (it was granted read-only): "
        "run enableConfluenceRemediation to consent to it"
    )


class SnapshotQueriesRepo(Protocol):
    """The ``SnapshotQueryRepository`` methods ``RemediationPlanner`` calls."""

    async def get_account(self, *, snapshot_id: str, account_id: str) -> SnapshotAccount | None: ...


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


class RemediationsRepo(Protocol):
    """The ``RemediationRepository`` methods ``RemediationPlanner`` calls."""

    async def memberships(
        self, *, snapshot_id: str, account_ids: Sequence[str]
    ) -> dict[str, list[tuple[str, str]]]: ...


class RemediationPlanner:
    """What would be called, per account, and why (reads only; never calls Atlassian)."""

    def __init__(
        self,
        reader: SnapshotReader,
        *,
        snapshot_queries: SnapshotQueriesRepo,
        remediations: RemediationsRepo,
        check_results: CheckResultsRepo,
        critical_systems: CriticalSystemsRepo,
        access_reviews: AccessReviewsRepo,
    ) -> None:
        self._snapshot_queries = snapshot_queries
        self._remediations = remediations
        self._check_results = check_results
        self._critical_systems = critical_systems
        self._access_reviews = access_reviews
        self._reader = reader

    async def plan(self, organization_id: str) -> list[RemediationAction]:
        """The current plan of the organization (empty without a synced ACCESS_REVIEW)."""
        integration = await self._reader.integration_for(organization_id, Purpose.ACCESS_REVIEW)
        snapshot_id = integration.current_snapshot_id if integration else None
        if integration is None or snapshot_id is None:
            return []
        wanted = await self._offboarded(organization_id)
        for account_id, item in (await self._decisions(organization_id)).items():
            wanted.setdefault(account_id, item)
        queries = self._snapshot_queries
        accounts: dict[str, SnapshotAccount] = {}
        for account_id in wanted:
            account = await queries.get_account(snapshot_id=snapshot_id, account_id=account_id)
            if account is not None:
                accounts[account_id] = account
        memberships = await self._remediations.memberships(
            snapshot_id=snapshot_id, account_ids=sorted(accounts)
        )
        admin_groups = {g.casefold() for g in integration.admin_groups}
        problem = grant_problem(integration)
        suspend_in = integration.admin_org_id if integration.has_admin_key else None
        actions = []
        for account_id in sorted(accounts):
            account, want = accounts[account_id], wanted[account_id]
            if want.source.type is SourceType.REVIEW and not account.has_access:
                continue  # the decision is already carried out as far as the checks go
            if suspend_in and want.source.type is SourceType.CHECK:
                actions.append(_suspension(integration, suspend_in, account, want, organization_id))
            for group_id, group_name in memberships.get(account_id, []):
                if want.admin_only and group_name.casefold() not in admin_groups:
                    continue
                action = RemediationAction(
                    id=action_id(organization_id, integration.id, group_id, account_id),
                    organization_id=organization_id,
                    integration_id=integration.id,
                    account_id=account_id,
                    display_name=account.display_name,
                    kind=ActionKind.REMOVE_FROM_GROUP,
                    group_id=group_id,
                    group_name=group_name,
                    reason=f"{want.reason}: remove from group {group_name}",
                    source=want.source,
                )
                actions.append(action.blocked(problem) if problem else action)
        return actions

    async def _offboarded(self, organization_id: str) -> dict[str, _Wanted]:
        result = await self._check_results.get_latest(
            organization_id=organization_id, check_id=OFFBOARDED_CHECK
        )
        if result is None:
            return {}
        return {
            item.resource_id: _Wanted(
                ActionSource(
                    SourceType.CHECK, check_id=OFFBOARDED_CHECK, resource_id=item.resource_id
                ),
                f"offboarded: {item.reason}",
                admin_only=False,
            )
            for item in result.failing_items
        }

    async def _decisions(self, organization_id: str) -> dict[str, _Wanted]:
        system = await self._critical_systems.get_by_kind(
            organization_id=organization_id, system=SystemKind.CONFLUENCE
        )
        if system is None:
            return {}
        review = await self._access_reviews.latest_completed(
            organization_id=organization_id, critical_system_id=system.id
        )
        if review is None:
            return {}
        found: dict[str, _Wanted] = {}
        for decision in (AccessDecision.REVOKE, AccessDecision.DOWNGRADE):
            after: str | None = None
            while True:
                entries, _ = await self._access_reviews.list_entries(
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
                    found.setdefault(
                        e.account_id,
                        _Wanted(source, reason, admin_only=decision is AccessDecision.DOWNGRADE),
                    )
                if len(entries) < _ENTRY_PAGE:
                    break
                after = entries[-1].account_id
        return found


def _suspension(
    integration: Integration,
    admin_org_id: str,
    account: SnapshotAccount,
    want: _Wanted,
    organization_id: str,
) -> RemediationAction:
    """Suspend an offboarded account's access in the org directory (Admin API key).

    Suspension keeps group memberships and does not change ``accountStatus`` (sourced in
    docs/remediation.md), so the group removals are planned as well: they are what the
    snapshot and the checks can see. The admin key is not limited by the Confluence grant,
    so only the connection's status can block it.
    """
    kind = ActionKind.SUSPEND_ACCESS
    action = RemediationAction(
        id=action_id(organization_id, integration.id, admin_org_id, account.account_id, kind),
        organization_id=organization_id,
        integration_id=integration.id,
        account_id=account.account_id,
        display_name=account.display_name,
        kind=kind,
        group_id=admin_org_id,
        group_name="",
        reason=f"{want.reason}: suspend access in the organization's directories",
        source=want.source,
    )
    if integration.status is not IntegrationStatus.CONNECTED:
        return action.blocked(f"the Confluence connection is {integration.status.value}")
    return action
