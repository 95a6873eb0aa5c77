"""Each kind of action as Atlassian calls and reads it back (confluence-api.md §5.9).

``Effects.call`` makes an action's calls and returns their records; a refusal raises
``CallRefused`` carrying the records made so far (the refused one last). ``Effects.read_back``
reads what Atlassian now says and whether it shows the change, naming every field as Atlassian
defines it: ``membershipStatus`` is organization-wide (an aggregate over the directories),
``userDirectoryStatus`` (role assignments) is one directory's, ``accountStatus`` the account's.

- REMOVE_FROM_GROUP: ``DELETE …/group/userByGroupId``; confirmed when the group's members
  no longer list the account.
- SUSPEND_ACCESS: ``…/directories?accountId``, then ``…/suspend`` in each; confirmed when
  ``membershipStatus`` is suspended and the site's ``userDirectoryStatus`` is not active.
- RESTORE_ACCESS: ``…/restore`` in each directory the suspension reached; confirmed when the
  site's ``userDirectoryStatus`` is active (without one, ``membershipStatus``).
- DEACTIVATE_ACCOUNT / REACTIVATE_ACCOUNT: ``…/manage/lifecycle/disable`` / ``enable``;
  confirmed when ``accountStatus`` is inactive / active.
- REVOKE_ROLE: ``…/roles/revoke`` of the role (Atlassian did not name it: of each Confluence
  role role assignments show held ``direct``); confirmed when none of them is held directly.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from services.atlassian.directory_admin import (
    DIRECTORIES,
    DIRECTORY_USER,
    LIFECYCLE_DISABLE,
    LIFECYCLE_ENABLE,
    RESTORE,
    ROLE_ASSIGNMENTS,
    ROLE_REVOKE,
    SUSPEND,
    DirectoryAdminClient,
    DirectoryUserState,
    confluence_resource,
)
from services.clock import Clock
from services.confluence.client import ConfluenceClient
from services.confluence.errors import ConfluenceError, ConfluenceNotFound, ConfluenceStatusError
from services.confluence.models import RoleAssignment, WriteAnswer
from services.confluence.paths import GROUP_MEMBER_REMOVE, GROUP_MEMBERS
from services.confluence.retry import RetryPolicy
from services.integrations.models import Integration
from services.remediation.models import (
    ActionKind,
    CallRecord,
    Observation,
    RemediationAction,
    Verification,
)

PRODUCT_ROLES = frozenset({"atlassian/user", "atlassian/admin", "atlassian/guest"})
DirectoryAdmin = Callable[[Integration], Awaitable[DirectoryAdminClient | None]]
ORGANIZATION = "organization"
ACCOUNT = "account"


class ClientSource(Protocol):
    """Builds an authenticated Confluence client for a stored integration."""

    async def confluence_for(
        self, integration: Integration, policy: RetryPolicy, http: Any = None
    ) -> ConfluenceClient:
        """The client."""
        ...


class CallRefused(Exception):
    """Atlassian refused a call (or it could not be made): the records so far, the error."""

    def __init__(self, calls: list[CallRecord], error: ConfluenceError | None, message: str):
        super().__init__(message)
        self.calls = calls
        self.error = error
        self.message = message


class NoClient(Exception):
    """The credential a call needs is not there (no Admin API key, no integration)."""


@dataclass(slots=True)
class Effects:
    """The calls and read-backs of one run, with the clients it built (per integration)."""

    integration: Integration
    clients: ClientSource
    directory_admin: DirectoryAdmin | None
    policy: RetryPolicy
    clock: Clock
    _confluence: ConfluenceClient | None = None
    _admin: DirectoryAdminClient | None = None

    async def confluence(self) -> ConfluenceClient:
        """The Confluence client of the integration (built once)."""
        if self._confluence is None:
            self._confluence = await self.clients.confluence_for(self.integration, self.policy)
        return self._confluence

    async def admin(self) -> DirectoryAdminClient:
        """The Admin API client of the integration's key (built once)."""
        if self._admin is None:
            admin = None
            if self.directory_admin is not None and self.integration.has_admin_key:
                admin = await self.directory_admin(self.integration)
            if admin is None:
                raise NoClient("no Admin API key is set on the integration any more")
            self._admin = admin
        return self._admin

    @property
    def cloud_id(self) -> str | None:
        """The connected site's cloud id (its Confluence resource in role assignments)."""
        return self.integration.site.cloud_id if self.integration.site else None

    # ----- calls ------------------------------------------------------------------------

    async def call(self, action: RemediationAction) -> list[CallRecord]:
        """Make the action's calls; ``CallRefused`` when Atlassian refuses one."""
        calls: list[CallRecord] = []
        kind, account = action.kind, action.account_id
        try:
            if kind is ActionKind.REMOVE_FROM_GROUP:
                client = await self.confluence()
                answer = await client.remove_group_member(action.group_id, account)
                calls.append(self._record("DELETE", GROUP_MEMBER_REMOVE, answer))
                return calls
            admin = await self.admin()
            if kind is ActionKind.SUSPEND_ACCESS:
                directories = await admin.directories_of(action.group_id, account)
                calls.append(CallRecord("GET", DIRECTORIES, 200, None, self.clock()))
                if not directories:
                    raise CallRefused(
                        calls,
                        None,
                        f"Atlassian lists {account} in no directory of the organization",
                    )
                for directory in directories:
                    answer = await admin.suspend(action.group_id, directory, account)
                    calls.append(self._record("POST", SUSPEND, answer, directory))
            elif kind is ActionKind.RESTORE_ACCESS:
                directories = list(action.directories)
                if not directories:
                    directories = await admin.directories_of(action.group_id, account)
                    calls.append(CallRecord("GET", DIRECTORIES, 200, None, self.clock()))
                for directory in directories:
                    answer = await admin.restore(action.group_id, directory, account)
                    calls.append(self._record("POST", RESTORE, answer, directory))
            elif kind is ActionKind.DEACTIVATE_ACCOUNT:
                answer = await admin.deactivate(account, f"Vigil remediation {action.id}")
                calls.append(self._record("POST", LIFECYCLE_DISABLE, answer))
            elif kind is ActionKind.REACTIVATE_ACCOUNT:
                answer = await admin.reactivate(account)
                calls.append(self._record("POST", LIFECYCLE_ENABLE, answer))
            elif kind is ActionKind.REVOKE_ROLE:
                resource = action.resource or ""
                roles = [action.role] if action.role else []
                if not roles:  # Atlassian did not name it: every product role held directly
                    found = await _assignments(admin, action.group_id, account, resource)
                    calls.append(CallRecord("GET", ROLE_ASSIGNMENTS, 200, None, self.clock()))
                    roles = sorted(_direct_roles(found, resource))
                for role in roles:
                    answer = await admin.revoke_role(action.group_id, account, role, resource)
                    calls.append(self._record("POST", ROLE_REVOKE, answer, role))
            else:
                raise CallRefused(calls, None, "a manual step is never called")
        except ConfluenceError as exc:
            calls.append(self._refused(exc, kind))
            raise CallRefused(calls, exc, refusal_text(exc)) from exc
        return calls

    def _record(
        self, method: str, endpoint: str, answer: WriteAnswer, target: str | None = None
    ) -> CallRecord:
        return CallRecord(method, endpoint, answer.status, answer.message, self.clock(), target)

    def _refused(self, exc: ConfluenceError, kind: ActionKind) -> CallRecord:
        endpoint = getattr(exc, "endpoint", None) or _ENDPOINTS.get(kind, "")
        method = "GET" if endpoint in (DIRECTORIES, DIRECTORY_USER) else _METHODS.get(kind, "POST")
        status = exc.status if isinstance(exc, ConfluenceStatusError) else None
        message = exc.message if isinstance(exc, ConfluenceStatusError) else str(exc)
        return CallRecord(method, endpoint, status, message[:300], self.clock())

    # ----- read-backs -------------------------------------------------------------------

    async def read_back(self, action: RemediationAction) -> Verification:
        """What Atlassian says now; raises ``ConfluenceError`` when it cannot be read."""
        kind, account = action.kind, action.account_id
        if kind is ActionKind.REMOVE_FROM_GROUP:
            still = await _is_member(await self.confluence(), action.group_id, account)
            detail = (
                f"Atlassian still lists {account} in group {action.group_name}"
                if still
                else f"{account} is no longer a member of group {action.group_name}"
            )
            seen = Observation("member", str(still).lower(), f"group {action.group_id}")
            return Verification(f"GET {GROUP_MEMBERS}", not still, detail, self.clock(), (seen,))
        admin = await self.admin()
        org = action.group_id
        if kind in (ActionKind.DEACTIVATE_ACCOUNT, ActionKind.REACTIVATE_ACCOUNT):
            user = await admin.directory_user(org, account)
            wanted = "inactive" if kind is ActionKind.DEACTIVATE_ACCOUNT else "active"
            confirmed = user.account_status == wanted
            detail = f"accountStatus of {account}: {user.account_status or 'absent'}"
            return Verification(
                f"GET {DIRECTORY_USER}", confirmed, detail, self.clock(), _user_fields(user)
            )
        if kind is ActionKind.REVOKE_ROLE:
            resource = action.resource or ""
            found = await _assignments(admin, org, account, resource)
            methods = next(
                (a.methods(action.role or "") for a in found if a.resource_id == resource), ()
            )
            confirmed = "direct" not in methods
            shown = ", ".join(methods) or "none"
            detail = f"{action.role} on {resource}: assignment methods {shown}"
            seen = Observation(
                f"roleAssignmentMethods[{action.role}]", shown, f"resource {resource}"
            )
            return Verification(f"GET {ROLE_ASSIGNMENTS}", confirmed, detail, self.clock(), (seen,))
        return await self._directory_read_back(admin, action)

    async def _directory_read_back(
        self, admin: DirectoryAdminClient, action: RemediationAction
    ) -> Verification:
        """Suspension or restore: the organization-wide ``membershipStatus`` and the site's
        ``userDirectoryStatus`` from role assignments (the per-directory truth)."""
        org, account = action.group_id, action.account_id
        suspend = action.kind is ActionKind.SUSPEND_ACCESS
        user = await admin.directory_user(org, account)
        observed = list(_user_fields(user))
        site: list[RoleAssignment] = []
        if self.cloud_id:
            resource = confluence_resource(self.cloud_id)
            assignments = await _assignments(admin, org, account, resource)
            site = [a for a in assignments if a.resource_id == resource and a.directory_id]
            observed += [
                Observation(
                    "userDirectoryStatus",
                    a.directory_status.value if a.directory_status else "absent",
                    f"directory {a.directory_id}",
                )
                for a in site
            ]
        statuses = [a.directory_status.value if a.directory_status else None for a in site]
        if suspend:
            confirmed = user.membership_status == "suspended" and all(
                s in ("suspended", "no_membership") for s in statuses
            )
        elif statuses:
            confirmed = all(s == "active" for s in statuses)
        else:
            confirmed = user.membership_status == "active"
        shown = ", ".join(f"{o.field} ({o.scope}): {o.value}" for o in observed)
        return Verification(
            f"GET {DIRECTORY_USER}, GET {ROLE_ASSIGNMENTS}",
            confirmed,
            f"{account}: {shown}",
            self.clock(),
            tuple(observed),
        )


def _user_fields(user: DirectoryUserState) -> tuple[Observation, ...]:
    fields = (
        ("accountStatus", user.account_status, ACCOUNT),
        ("membershipStatus", user.membership_status, ORGANIZATION),
        ("status", user.status, ORGANIZATION),
    )
    return tuple(Observation(name, value, scope) for name, value, scope in fields if value)


async def _assignments(
    admin: DirectoryAdminClient, org: str, account: str, resource: str
) -> list[RoleAssignment]:
    """The account's role assignments on ``resource`` (every page)."""
    found: list[RoleAssignment] = []
    cursor: str | None = None
    for _ in range(20):
        page = await admin.role_assignments(org, account, cursor, resource_id=resource)
        found += page.items
        cursor = page.next_cursor
        if cursor is None:
            break
    return found


def _methods(found: list[RoleAssignment], resource: str, role: str) -> tuple[str, ...]:
    return next((a.methods(role) for a in found if a.resource_id == resource), ())


def _direct_roles(found: list[RoleAssignment], resource: str) -> set[str]:
    """Confluence product roles held directly on ``resource``."""
    return {role for role in PRODUCT_ROLES if "direct" in _methods(found, resource, role)}


async def _is_member(client: ConfluenceClient, group_id: str, account_id: str) -> bool:
    cursor: str | None = None
    try:
        while True:
            page = await client.list_group_members(group_id, cursor)
            if any(m.account_id == account_id for m in page.items):
                return True
            cursor = page.next_cursor
            if cursor is None:
                return False
    except ConfluenceNotFound:
        return False  # the group itself is gone: the account is not in it


def refusal_text(exc: ConfluenceError) -> str:
    """The action's error for a refused call: Atlassian's status and message."""
    if isinstance(exc, ConfluenceStatusError):
        return f"Atlassian answered {exc.status}: {exc.message}"
    return getattr(exc, "message", None) or str(exc) or type(exc).__name__


_ENDPOINTS = {
    ActionKind.REMOVE_FROM_GROUP: GROUP_MEMBER_REMOVE,
    ActionKind.SUSPEND_ACCESS: SUSPEND,
    ActionKind.RESTORE_ACCESS: RESTORE,
    ActionKind.DEACTIVATE_ACCOUNT: LIFECYCLE_DISABLE,
    ActionKind.REACTIVATE_ACCOUNT: LIFECYCLE_ENABLE,
    ActionKind.REVOKE_ROLE: ROLE_REVOKE,
}
_METHODS = {ActionKind.REMOVE_FROM_GROUP: "DELETE"}
