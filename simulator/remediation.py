"""Confluence group writes: remove and add a member by group id.

``DELETE /wiki/rest/api/group/userByGroupId?groupId=…&accountId=…`` — v1 reference
``removeMemberFromGroupByGroupId``: 204 when removed and also when the account was not a
member; 400 without ``groupId``/``accountId``; 403 when the caller is not a **site admin** (a
role: a Confluence administrator who is not a site admin is refused, with the reference's own
words "User must be a site admin"); 404 for an unknown group or account.
``POST /wiki/rest/api/group/userByGroupId?groupId=…`` with ``{"accountId"}`` — 201, same rules.
Scopes (checked in ``simulator.auth``): classic ``write:confluence-groups`` or granular
``write:group:confluence``.

Groups synced from an identity provider: adding is refused (Atlassian: "You can't add a user to
a group synced from an identity provider"); removing is refused or accepted and undone by the
next IdP push, as ``behaviour.idp_removal`` says (undocumented). Changes go through
``sim.actions``: an event, and read-backs that lag when ``behaviour.lag_seconds`` is set.

The Admin API writes (directories, suspension, roles, lifecycle) are in ``admin_writes``.
"""

from __future__ import annotations

import json

from starlette.responses import Response

from simulator.actions import ActionError, Actor
from simulator.context import Ctx
from simulator.errors import v1_error

REMOVE_MEMBER = "/wiki/rest/api/group/userByGroupId"
NOT_SITE_ADMIN = "User must be a site admin"
SYNCED_ADD = (
    "You can't add a user to a group synced from an identity provider. "
    "Manage this group in your identity provider instead."
)
SYNCED_REMOVE = (
    "You can't remove a user from a group synced from an identity provider. "
    "Manage this group in your identity provider instead."
)


def actor_of(ctx: Ctx) -> Actor:
    """The event actor of a Confluence write: the caller's account and credential kind."""
    client = ctx.request.client
    return Actor.of(
        ctx.principal.account,
        auth_type=ctx.principal.auth_type,
        secret=ctx.principal.secret,
        ip=client.host if client else None,
    )


def _checks(ctx: Ctx, group_id: str, account_id: str) -> Response | None:
    if not group_id or not account_id:
        return v1_error(400, "groupId and accountId are required")
    if not ctx.principal.site_admin:
        return v1_error(403, NOT_SITE_ADMIN)
    if group_id not in ctx.site.groups:
        return v1_error(404, f"No group found with id : {group_id}")
    if ctx.site.get_account(account_id) is None:
        return v1_error(404, f"No user found with accountId : {account_id}")
    return None


def _change(ctx: Ctx, group_id: str, account_id: str, *, add: bool) -> Response:
    """The membership change through ``sim.actions`` as the caller: 201 added, 204 removed."""
    refused = _checks(ctx, group_id, account_id)
    if refused is not None:
        return refused
    if ctx.site.groups[group_id].synced:
        if add:
            return v1_error(403, SYNCED_ADD)
        if ctx.sim.behaviour.idp_removal == "refuse":
            return v1_error(403, SYNCED_REMOVE)
    change = ctx.sim.actions.add_member if add else ctx.sim.actions.remove_member
    try:
        change(group_id, account_id, site=ctx.site, by=actor_of(ctx), from_idp=False)
    except ActionError as exc:
        return v1_error(exc.status, exc.message)
    return Response(status_code=201 if add else 204)


async def remove_member(ctx: Ctx) -> Response:
    """DELETE /wiki/rest/api/group/userByGroupId?groupId&accountId (site admin only)."""
    return _change(ctx, ctx.param("groupId"), ctx.param("accountId"), add=False)


async def add_member(ctx: Ctx) -> Response:
    """POST /wiki/rest/api/group/userByGroupId?groupId {"accountId"} (site admin only) → 201."""
    try:
        body = json.loads(await ctx.request.body() or b"null")
    except ValueError:
        return v1_error(400, "The request body is not valid JSON")
    raw = body.get("accountId") if isinstance(body, dict) else None
    return _change(ctx, ctx.param("groupId"), raw if isinstance(raw, str) else "", add=True)
