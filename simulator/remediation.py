"""Confluence writes Vigil's remediation makes.

``DELETE /wiki/rest/api/group/userByGroupId?groupId=…&accountId=…`` — v1 OpenAPI
``removeMemberFromGroupByGroupId``: 204 when removed and also when the account was not a
member; 400 without ``groupId``/``accountId``; 403 when the caller is not a site admin;
404 for an unknown group or account. OAuth callers need ``write:confluence-groups`` (else the
gateway's 401 "scope does not match", checked in ``simulator.auth`` like every route).
The change is made to the generated site, so the next sync (and any read) sees it.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from simulator.admin import directory_user
from simulator.auth import bearer_token
from simulator.context import Ctx
from simulator.core import Simulator
from simulator.errors import gateway_error, json_response, v1_error

REMOVE_MEMBER = "/wiki/rest/api/group/userByGroupId"


async def remove_member(ctx: Ctx) -> Response:
    """DELETE /wiki/rest/api/group/userByGroupId?groupId&accountId (site admin only)."""
    group_id, account_id = ctx.param("groupId"), ctx.param("accountId")
    if not group_id or not account_id:
        return v1_error(400, "groupId and accountId are required")
    if not ctx.principal.admin:
        return v1_error(403, "Only site admins may remove members from groups")
    if group_id not in ctx.site.groups:
        return v1_error(404, f"No group found with id : {group_id}")
    if ctx.site.get_account(account_id) is None:
        return v1_error(404, f"No user found with accountId : {account_id}")
    ctx.site.remove_member(group_id, account_id)
    return Response(status_code=204)


# --- Admin API: directories, suspend / restore, a directory user's membership status ----------
# Shapes from the jira.js admin client (mirroring Atlassian's Organizations REST API), see
# docs/remediation.md. Unconfirmed and chosen here: suspend/restore answer 204 with no body
# (jira.js models no body), repeating one is a 204 too, and one local directory per org.


def directory_id_for(org_id: str) -> str:
    """The simulated organization's one (local) directory."""
    return f"local-{org_id}"


def _admin_error(status: int, detail: str) -> Response:
    body = {"errors": [{"status": str(status), "code": f"ADMIN-{status}", "detail": detail}]}
    return json_response(body, status)


def _org(sim: Simulator, request: Request) -> str | None:
    key = bearer_token(request)
    org = sim.credentials.org_for_admin_key(key) if key else None
    return org if org is not None and org == request.path_params["orgId"] else None


def _directory_account(sim: Simulator, request: Request) -> str | Response:
    """The account of a directory-user route, or the error to answer."""
    org = _org(sim, request)
    if org is None:
        return gateway_error(401, "Unauthorized")
    if request.path_params["directoryId"] != directory_id_for(org):
        return _admin_error(404, "Directory not found")
    account_id = str(request.path_params["accountId"])
    if sim.directory_account(account_id) is None:
        return _admin_error(404, "User not found in the directory")
    return account_id


def make_directories(sim: Simulator) -> Any:
    """GET /admin/v2/orgs/{orgId}/directories[?accountId] (org admin API key)."""

    async def directories(request: Request) -> Response:
        org = _org(sim, request)
        if org is None:
            return gateway_error(401, "Unauthorized")
        account_id = request.query_params.get("accountId")
        listed = account_id is None or sim.directory_account(account_id) is not None
        data = (
            [{"directoryId": directory_id_for(org), "name": "Local directory", "icon": None}]
            if listed
            else []
        )
        return json_response({"data": data, "links": {"self": None, "next": None, "prev": None}})

    return directories


def make_suspension(sim: Simulator, *, suspend: bool) -> Any:
    """POST …/directories/{directoryId}/users/{accountId}/suspend (or /restore) → 204."""

    async def change(request: Request) -> Response:
        found = _directory_account(sim, request)
        if isinstance(found, Response):
            return found
        suspended = suspended_accounts(sim)  # set.add/discard are atomic: no lock needed
        if suspend:
            suspended.add(found)
        else:
            suspended.discard(found)
        return Response(status_code=204)

    return change


def make_directory_user(sim: Simulator) -> Any:
    """GET …/directories/{directoryId}/users/{accountId} → {data: {…, membershipStatus}}."""

    async def user(request: Request) -> Response:
        found = _directory_account(sim, request)
        if isinstance(found, Response):
            return found
        entry = sim.directory_account(found)
        if entry is None:  # removed since the check above
            return _admin_error(404, "User not found in the directory")
        site, account = entry
        data = directory_user(
            site, account, frozenset(), suspended=found in suspended_accounts(sim)
        )
        return json_response({"data": data})

    return user


def suspended_accounts(sim: Simulator) -> set[str]:
    """Accounts whose directory access is suspended (kept on the simulator)."""
    return sim.suspended
