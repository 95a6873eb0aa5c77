"""Atlassian Admin API (org directory users search) and the site's tenant_info."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from simulator.auth import bearer_token
from simulator.context import decode_cursor, encode_cursor
from simulator.core import Simulator
from simulator.errors import gateway_error, json_response
from simulator.model import Account, iso
from simulator.site import Site


def _admin_error(status: int, detail: str) -> Response:
    return json_response(
        {
            "errors": [
                {
                    "status": str(status),
                    "code": f"ADMIN-{status}",
                    "title": "Bad Request",
                    "detail": detail,
                }
            ]
        },
        status,
    )


_COMPOSITE = {"active": "active", "inactive": "deactivated", "closed": "deactivated"}


def directory_user(
    site: Site,
    account: Account,
    expand: frozenset[str],
    sites: tuple[Site, ...] = (),
    *,
    suspended: bool = False,
) -> dict[str, Any]:
    """An org directory user as ``POST …/directories/-/users/search`` returns it (§5.8).

    No ``lastActive`` field: last activity per product and site is in ``productAccess``, and
    ``productAccess`` / ``platformRoles`` are present only when asked for with ``expand``.
    ``mfaEnabled`` is meaningful for managed accounts (the organization's verified domains);
    unmanaged accounts answer ``false`` whatever their real setting (Atlassian cannot see it).
    ``status`` is the composite: ``active``, ``suspended`` (membership suspended through the
    Admin API) or ``deactivated`` (accountStatus inactive/closed).
    """
    managed = site.is_managed(account)
    active = account.account_status == "active"
    user: dict[str, Any] = {
        "accountId": account.account_id,
        "accountType": account.account_type or "unknown",
        "accountStatus": account.account_status,
        "membershipStatus": "suspended" if suspended else "active",
        "status": "suspended" if suspended and active else _COMPOSITE[account.account_status],
        "claimStatus": "managed" if managed else "unmanaged",
        "name": account.display_name,
        "nickname": account.public_name or account.display_name,
        "email": account.email,
        "mfaEnabled": bool(account.mfa_enabled) if managed else False,
        "addedToOrg": iso(account.added_to_org),
        "deactivatedOn": None if active else iso(account.added_to_org),
    }
    if "productAccess" in expand:
        user["productAccess"] = product_access(account, sites or (site,))
    if "platformRoles" in expand:
        user["platformRoles"] = ["atlassian/user"]
    return user


def product_access(account: Account, sites: tuple[Site, ...]) -> list[dict[str, Any]]:
    """One Confluence entry per site the account is on (its own last activity there), and a
    Jira entry on the first site (activity in another product must not be mistaken for it)."""
    entries: list[dict[str, Any]] = []
    for site in sites:
        with site.lock:
            there = site.accounts.get(account.account_id)
        if there is None:
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


def make_admin_search(sim: Simulator) -> Any:
    """POST /admin/v2/orgs/{orgId}/directories/-/users/search (org admin API key only)."""

    async def search(request: Request) -> Response:
        key = bearer_token(request)
        org = sim.credentials.org_for_admin_key(key) if key else None
        if org is None or org != request.path_params["orgId"]:
            return gateway_error(401, "Unauthorized")
        try:
            body = json.loads(await request.body() or b"{}")
            if not isinstance(body, dict):
                raise ValueError("body must be an object")
            limit = int(body.get("limit") or sim.config.admin_default_limit)
            cursor = body.get("cursor")
            offset = decode_cursor(str(cursor), "admin") if cursor else 0
            expand = body.get("expand") or []
            if not isinstance(expand, list) or not all(isinstance(e, str) for e in expand):
                raise ValueError("expand must be a list of strings")
        except (ValueError, TypeError) as exc:
            return _admin_error(400, f"Invalid request: {exc}")
        if limit < 1:
            return _admin_error(400, "limit must be positive")
        limit = min(limit, sim.config.admin_max_limit)
        chunk, total = sim.directory_page(offset, limit)
        more = offset + limit < total
        request.scope["vigil"].points += 2 * len(chunk)
        sites = tuple(sim.sites.values())
        links = {"next": encode_cursor(offset + limit, "admin")} if more else {}
        return json_response(
            {
                "data": [
                    directory_user(
                        site,
                        account,
                        frozenset(expand),
                        sites,
                        suspended=account.account_id in sim.suspended,
                    )
                    for site, account in chunk
                ],
                "links": links,
            }
        )

    return search


def make_tenant_info(sim: Simulator) -> Any:
    """GET https://{site}.atlassian.net/_edge/tenant_info → {"cloudId"} (no auth)."""

    async def tenant_info(request: Request) -> Response:
        site = sim.sites.get(request.path_params["siteName"])
        if site is None:
            return gateway_error(404, "Site not found")
        return json_response({"cloudId": site.cloud_id})

    return tenant_info
