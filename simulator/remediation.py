"""Confluence writes Vigil's remediation makes (issue 16).

``DELETE /wiki/rest/api/group/userByGroupId?groupId=…&accountId=…`` — v1 OpenAPI
``removeMemberFromGroupByGroupId``: 204 when removed and also when the account was not a
member; 400 without ``groupId``/``accountId``; 403 when the caller is not a site admin;
404 for an unknown group or account. OAuth callers need ``write:confluence-groups`` (else the
gateway's 401 "scope does not match", checked in ``simulator.auth`` like every route).
The change is made to the generated site, so the next sync (and any read) sees it.
"""

from __future__ import annotations

from starlette.responses import Response

from simulator.context import Ctx
from simulator.errors import v1_error

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
