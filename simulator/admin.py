"""Atlassian Admin API (org directory users search) and the site's tenant_info."""

from __future__ import annotations

import json
import zlib
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


def directory_user(site: Site, account: Account) -> dict[str, Any]:
    """An org directory user; mfaEnabled only for managed accounts (else null or absent)."""
    user: dict[str, Any] = {
        "accountId": account.account_id,
        "accountType": account.account_type or "unknown",
        "accountStatus": account.account_status,
        "status": "active" if account.account_status == "active" else "suspended",
        "name": account.display_name,
        "nickname": account.public_name or account.display_name,
        "email": account.email,
        "platformRoles": ["atlassian/user"],
        "addedToOrg": iso(account.added_to_org),
    }
    if site.is_managed(account):
        user["mfaEnabled"] = account.mfa_enabled
    elif zlib.crc32(account.account_id.encode()) % 2:
        user["mfaEnabled"] = None
    if account.last_active is not None:
        user["lastActive"] = iso(account.last_active)
    return user


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
            limit = int(body.get("limit") or sim.config.admin_max_limit)
            cursor = body.get("cursor")
            offset = decode_cursor(str(cursor), "admin") if cursor else 0
        except (ValueError, TypeError) as exc:
            return _admin_error(400, f"Invalid request: {exc}")
        if limit < 1:
            return _admin_error(400, "limit must be positive")
        limit = min(limit, sim.config.admin_max_limit)
        everyone = sim.directory_accounts()
        chunk = everyone[offset : offset + limit]
        more = offset + limit < len(everyone)
        request.scope["vigil"].points += 2 * len(chunk)
        return json_response(
            {
                "data": [directory_user(site, account) for site, account in chunk],
                "links": {"next": encode_cursor(offset + limit, "admin") if more else None},
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
