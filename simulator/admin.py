"""Atlassian Admin API: the org directory users search (§5.8), and the site's tenant_info.

Authentication of every Admin API route is here too (``admin_org``, applied by
``admin_route``): Bearer org admin API key, for the organization in the path.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from simulator.auth import SCOPE_MISMATCH, bearer_token
from simulator.context import decode_cursor, encode_cursor
from simulator.errors import admin_error, gateway_error, json_response
from simulator.model import Account, iso
from simulator.roles import ACCESS_ROLES, ORG_ADMIN, SITE_ADMIN, org_resource, resource_of
from simulator.site import Site

if TYPE_CHECKING:
    from simulator.core import Simulator


def admin_org(
    sim: Simulator, request: Request, scope: str | None = None
) -> tuple[str, str] | Response:
    """(org id, key) of an Admin API request, or the 401 to answer: the Bearer key must be an
    org admin API key of the organization in the path (OAuth tokens and API tokens are
    refused), and a scoped key must hold ``scope``."""
    key = bearer_token(request)
    org = sim.credentials.org_for_admin_key(key) if key else None
    wanted = request.path_params.get("orgId")
    if key is None or org is None or (wanted is not None and org != wanted):
        return gateway_error(401, "Unauthorized")
    if scope is not None and not sim.credentials.admin_key_allows(key, scope):
        return gateway_error(401, SCOPE_MISMATCH)
    return org, key


AdminAuth = tuple[str, str]  # (org id, key) of an authenticated Admin API request
AdminGate = Callable[["Simulator", Request], AdminAuth | Response]


def admin_route(
    sim: Simulator,
    handler: Callable[[Request, AdminAuth], Awaitable[Response]],
    gate: AdminGate = admin_org,
) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint that answers ``gate``'s refusal, or else calls ``handler`` with the
    request's (org id, key)."""

    async def endpoint(request: Request) -> Response:
        auth = gate(sim, request)
        if isinstance(auth, Response):
            return auth
        return await handler(request, auth)

    return endpoint


_COMPOSITE = {"active": "active", "inactive": "deactivated", "closed": "deactivated"}


@dataclass(slots=True)
class RoleView:
    """Role indexes of every site, built once per response (``Site.role_index``)."""

    sim: Simulator
    _indexes: dict[str, dict[str, dict[str, tuple[str, ...]]]] = field(default_factory=dict)

    def roles(self, site: Site, account_id: str) -> dict[str, tuple[str, ...]]:
        """The account's roles on the site (with methods)."""
        index = self._indexes.get(site.name)
        if index is None:
            index = self._indexes[site.name] = site.role_index()
        return index.get(account_id, {})

    def hidden(self, site: Site, account_id: str) -> bool:
        """Roles and memberships hidden while suspended (``suspension_hides_memberships``)."""
        return self.sim.behaviour.suspension_hides_memberships and account_id in site.suspended

    def platform_roles(self, account_id: str) -> list[str]:
        """``platformRoles``: org-admin and site-admin (jira.js ``PlatformRole``)."""
        roles = [ORG_ADMIN] if account_id in self.sim.org.admins else []
        if any(SITE_ADMIN in self.roles(s, account_id) for s in self.sim.sites.values()):
            roles.append(SITE_ADMIN)
        return roles


def directory_user(
    sim: Simulator,
    site: Site,
    account: Account,
    expand: frozenset[str],
    view: RoleView | None = None,
) -> dict[str, Any]:
    """An org directory user as ``POST …/directories/-/users/search`` returns it (§5.8).

    No ``lastActive`` field: last activity per product and site is in ``productAccess``, and
    ``productAccess`` / ``platformRoles`` are present only when asked for with ``expand``.
    ``mfaEnabled`` is meaningful for managed accounts (the organization's verified domains);
    unmanaged accounts answer ``false`` whatever their real setting (Atlassian cannot see it).
    ``membershipStatus`` is the organization-wide aggregate (``suspended`` only when suspended
    in every directory); ``status`` the composite: ``active``, ``suspended``, ``deactivated``.
    """
    view = view or RoleView(sim)
    managed = site.is_managed(account)
    active = account.account_status == "active"
    membership = sim.org.membership_status(account.account_id, in_org=True)  # a listed account
    deactivated_at = sim.org.deactivated_at.get(account.account_id)
    if active:
        composite = {"suspended": "suspended", "no_membership": "not_invited"}.get(
            membership, "active"
        )
    else:
        composite = _COMPOSITE[account.account_status]
    user: dict[str, Any] = {
        "accountId": account.account_id,
        "accountType": account.account_type or "unknown",
        "accountStatus": account.account_status,
        "membershipStatus": membership,
        "status": composite,
        "claimStatus": "managed" if managed else "unmanaged",
        "name": account.display_name,
        "nickname": account.public_name or account.display_name,
        "email": account.email,
        "mfaEnabled": bool(account.mfa_enabled) if managed else False,
        "addedToOrg": iso(account.added_to_org),
        "deactivatedOn": None if active else iso(deactivated_at or account.added_to_org),
    }
    if "productAccess" in expand:
        user["productAccess"] = product_access(account, tuple(sim.sites.values()), view)
    if "platformRoles" in expand:
        user["platformRoles"] = view.platform_roles(account.account_id)
    return user


def product_access(
    account: Account, sites: tuple[Site, ...], view: RoleView
) -> list[dict[str, Any]]:
    """One Confluence entry per site where the account holds a Confluence access role (user or
    admin, through a group or directly) — its own last activity there — and a Jira entry on
    the first (activity in another product must not be mistaken for it)."""
    entries: list[dict[str, Any]] = []
    for site in sites:
        with site.lock:
            there = site.accounts.get(account.account_id)
        if there is None or view.hidden(site, account.account_id):
            continue
        if not ACCESS_ROLES & view.roles(site, account.account_id).keys():
            continue
        entries.append(
            {
                "key": "confluence",
                "id": site.cloud_id,
                "name": "Confluence",
                "url": f"{site.name}.atlassian.net",
                "lastActiveTimestamp": iso(there.last_active),
            }
        )
    if entries and account.last_active is not None:
        jira = {**entries[0], "key": "jira-software", "name": "Jira"}
        jira["lastActiveTimestamp"] = iso(account.last_active + timedelta(days=3))
        entries.insert(0, jira)
    return entries


# ----- search filters (Organizations REST API, v2 users search; jira.js SearchDirectoryUsers) --

_LIST_FILTERS = (
    "accountIds",
    "resourceIds",
    "roleIds",
    "directoryIds",
    "claimStatus",
    "accountStatus",
    "status",
    "membershipStatus",
    "emailDomains",
)


def _strings(value: Any, name: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ValueError(f"{name} must be a string or a list of strings")


def _filters(body: dict[str, Any]) -> dict[str, list[str]]:
    return {name: _strings(body[name], name) for name in _LIST_FILTERS if body.get(name)}


def _matches(
    sim: Simulator, view: RoleView, site: Site, account: Account, filters: dict[str, list[str]]
) -> bool:
    account_id = account.account_id
    if "accountIds" in filters and account_id not in filters["accountIds"]:
        return False
    user = directory_user(sim, site, account, frozenset(), view)
    for name in ("claimStatus", "accountStatus", "status", "membershipStatus"):
        if name in filters and user[name] not in filters[name]:
            return False
    if "emailDomains" in filters:
        domain = account.email.rpartition("@")[2].lower()
        if domain not in {d.lower() for d in filters["emailDomains"]}:
            return False
    if "directoryIds" in filters:
        mine = {d.directory_id for d in sim.actions.directories_of(account_id)}
        if not mine & set(filters["directoryIds"]):
            return False
    if "resourceIds" in filters or "roleIds" in filters:
        held = _held_roles(sim, view, account_id)
        wanted_roles = set(filters.get("roleIds", [])) or None
        wanted_resources = set(filters.get("resourceIds", [])) or None
        if not any(
            (wanted_roles is None or role in wanted_roles)
            and (wanted_resources is None or resource in wanted_resources)
            for resource, role in held
        ):
            return False
    return True


def _held_roles(sim: Simulator, view: RoleView, account_id: str) -> set[tuple[str, str]]:
    """(resource, role) pairs the account holds across the organization."""
    held: set[tuple[str, str]] = set()
    for site in sim.sites.values():
        if view.hidden(site, account_id):
            continue
        for role in view.roles(site, account_id):
            held.add((resource_of(role, site.cloud_id), role))
    if account_id in sim.org.admins:
        held.add((org_resource(sim.org.org_id), ORG_ADMIN))
    return held


def _scope_of(filters: dict[str, list[str]]) -> str:
    return "admin" if not filters else "admin:" + json.dumps(filters, sort_keys=True)


def make_admin_search(sim: Simulator) -> Any:
    """POST /admin/v2/orgs/{orgId}/directories/-/users/search (org admin API key only)."""

    async def search(request: Request, auth: AdminAuth) -> Response:
        try:
            body = json.loads(await request.body() or b"{}")
            if not isinstance(body, dict):
                raise ValueError("body must be an object")
            limit = int(body.get("limit") or sim.config.admin_default_limit)
            filters = _filters(body)
            cursor = body.get("cursor")
            offset = decode_cursor(str(cursor), _scope_of(filters)) if cursor else 0
            expand = body.get("expand") or []
            if not isinstance(expand, list) or not all(isinstance(e, str) for e in expand):
                raise ValueError("expand must be a list of strings")
        except (ValueError, TypeError) as exc:
            return admin_error(400, f"Invalid request: {exc}")
        if limit < 1:
            return admin_error(400, "limit must be positive")
        limit = min(limit, sim.config.admin_max_limit)
        view = RoleView(sim)
        if filters:
            entries = _filtered(sim, view, filters)
            chunk, total = entries[offset : offset + limit], len(entries)
        else:
            chunk, total = sim.directory_page(offset, limit)
        more = offset + limit < total
        request.scope["vigil"].points += 2 * len(chunk)
        links = {"next": encode_cursor(offset + limit, _scope_of(filters))} if more else {}
        data = [
            directory_user(sim, site, account, frozenset(expand), view) for site, account in chunk
        ]
        return json_response({"data": data, "links": links})

    return admin_route(sim, search)


def _filtered(
    sim: Simulator, view: RoleView, filters: dict[str, list[str]]
) -> list[tuple[Site, Account]]:
    candidates: Iterable[tuple[Site, Account]]
    if "accountIds" in filters:  # a handful of accounts: look them up (in the asked order)
        looked_up = (sim.directory_account(a) for a in dict.fromkeys(filters["accountIds"]))
        candidates = [e for e in looked_up if e is not None]
    else:
        candidates = sim.directory_accounts()
    return [(s, a) for s, a in candidates if _matches(sim, view, s, a, filters)]


def make_tenant_info(sim: Simulator) -> Any:
    """GET https://{site}.atlassian.net/_edge/tenant_info → {"cloudId"} (no auth)."""

    async def tenant_info(request: Request) -> Response:
        site = sim.sites.get(request.path_params["siteName"])
        if site is None:
            return gateway_error(404, "Site not found")
        return json_response({"cloudId": site.cloud_id})

    return tenant_info
