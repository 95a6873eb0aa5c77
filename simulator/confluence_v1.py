"""Confluence REST v1 endpoints: current user, groups, group members, CQL content search."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.responses import Response

from simulator.context import Ctx, decode_cursor, encode_cursor, parse_int
from simulator.cql import CqlError, parse_cql, sort_key
from simulator.errors import json_response, v1_error
from simulator.ratelimit import POINTS_PER_OBJECT
from simulator.render import v1_content, v1_group, v1_operations, v1_user

SEARCH_PATH = "/rest/api/content/search"


def _expand(ctx: Ctx) -> set[str]:
    """Expansions requested, including each dotted prefix (history.lastUpdated → history)."""
    out: set[str] = set()
    for item in ctx.param("expand").split(","):
        parts = item.strip().split(".")
        out.update(".".join(parts[: i + 1]) for i in range(len(parts)) if parts[0])
    return out


# v1 OpenAPI, getGroupMembersByGroupId: `limit` is at most 200; more is refused with 400
# (confluence-api.md §5.3). A lower server cap (`members_cap`) only shortens pages.
MAX_MEMBERS_LIMIT = 200


def _offset_page(ctx: Ctx, cap: int, refuse_above: int | None = None) -> tuple[int, int] | Response:
    try:
        start = parse_int(ctx.param("start"), 0)
        limit = parse_int(ctx.param("limit"), min(cap, refuse_above or cap))
    except ValueError:
        return v1_error(400, "start and limit must be integers")
    if start < 0 or limit < 0:
        return v1_error(400, "start and limit must not be negative")
    if refuse_above is not None and limit > refuse_above:
        return v1_error(400, f"limit must be less than or equal to {refuse_above}")
    return start, max(1, min(limit, cap))


def _links(ctx: Ctx, self_path: str, next_path: str | None) -> dict[str, str]:
    links = {"base": f"{ctx.base}/wiki", "context": "/wiki", "self": f"{ctx.base}/wiki{self_path}"}
    if next_path:
        links["next"] = next_path
    return links


async def current_user(ctx: Ctx) -> Response:
    """GET /wiki/rest/api/user/current[?expand=operations]."""
    operations = (
        v1_operations(ctx.principal.confluence_admin) if "operations" in _expand(ctx) else None
    )
    ctx.charge(1, POINTS_PER_OBJECT["user"])
    return json_response(v1_user(ctx.principal.account, ctx.base, operations=operations))


async def groups(ctx: Ctx) -> Response:
    """GET /wiki/rest/api/group?start&limit (offset pagination, cap 200)."""
    paging = _offset_page(ctx, ctx.sim.config.groups_cap)
    if isinstance(paging, Response):
        return paging
    start, limit = paging
    ordered = sorted(ctx.site.groups.values(), key=lambda g: (g.name.casefold(), g.group_id))
    chunk = ordered[start : start + limit]
    more = start + limit < len(ordered)
    next_path = f"/rest/api/group?limit={limit}&start={start + limit}" if more else None
    ctx.charge(len(chunk), POINTS_PER_OBJECT["group"])
    return json_response(
        {
            "results": [
                v1_group(g, ctx.base, management=ctx.sim.behaviour.group_fields) for g in chunk
            ],
            "start": start,
            "limit": limit,
            "size": len(chunk),
            "_links": _links(ctx, "/rest/api/group", next_path),
        }
    )


async def group_members(ctx: Ctx) -> Response:
    """GET /wiki/rest/api/group/{groupId}/membersByGroupId?start&limit (cap 200)."""
    group_id = ctx.request.path_params["groupId"]
    if group_id not in ctx.site.groups:
        return v1_error(404, f"No group found with id : {group_id}")
    paging = _offset_page(ctx, ctx.sim.config.members_cap, MAX_MEMBERS_LIMIT)
    if isinstance(paging, Response):
        return paging
    start, limit = paging
    members = ctx.site.members_of(group_id)
    if ctx.sim.behaviour.suspension_hides_memberships:
        members = [a for a in members if a.account_id not in ctx.site.suspended]
    chunk = members[start : start + limit]
    path = f"/rest/api/group/{group_id}/membersByGroupId"
    more = start + limit < len(members)
    next_path = f"{path}?start={start + limit}&limit={limit}" if more else None
    ctx.charge(len(chunk), POINTS_PER_OBJECT["user"])
    return json_response(
        {
            "results": [v1_user(a, ctx.base) for a in chunk],
            "start": start,
            "limit": limit,
            "size": len(chunk),
            "_links": _links(ctx, path, next_path),
        }
    )


MEMBEROF_PATH = "/rest/api/user/memberof"


async def member_of(ctx: Ctx) -> Response:
    """GET /wiki/rest/api/user/memberof?accountId&start&limit: the account's groups
    (GroupArrayWithLinks, offset pagination like the group list)."""
    account_id = ctx.param("accountId")
    if not account_id:
        return v1_error(400, "accountId is required")
    if ctx.site.get_account(account_id) is None:
        return v1_error(404, f"No user found with accountId : {account_id}")
    paging = _offset_page(ctx, ctx.sim.config.memberof_cap)
    if isinstance(paging, Response):
        return paging
    start, limit = paging
    hidden = ctx.sim.behaviour.suspension_hides_memberships and account_id in ctx.site.suspended
    groups = [] if hidden else ctx.site.groups_of(account_id)
    ordered = sorted(groups, key=lambda g: (g.name.casefold(), g.group_id))
    chunk = ordered[start : start + limit]
    query = urlencode({"accountId": account_id})
    more = start + limit < len(ordered)
    next_path = f"{MEMBEROF_PATH}?{query}&start={start + limit}&limit={limit}" if more else None
    ctx.charge(len(chunk), POINTS_PER_OBJECT["group"])
    management = ctx.sim.behaviour.group_fields
    return json_response(
        {
            "results": [v1_group(g, ctx.base, management=management) for g in chunk],
            "start": start,
            "limit": limit,
            "size": len(chunk),
            "_links": _links(ctx, f"{MEMBEROF_PATH}?{query}", next_path),
        }
    )


async def content_search(ctx: Ctx) -> Response:
    """GET /wiki/rest/api/content/search?cql&limit&expand&cursor (cursor pagination)."""
    cql = ctx.param("cql").strip()
    if not cql:
        return v1_error(400, "CQL query parameter is required")
    try:
        query = parse_cql(cql)
    except CqlError as exc:
        return v1_error(400, f"Could not parse cql : {cql} ({exc})")
    expand = _expand(ctx)
    config = ctx.sim.config
    cap = config.search_body_cap if "body.storage" in expand else config.search_cap
    try:
        limit = max(1, min(parse_int(ctx.param("limit"), config.search_default_limit), cap))
        cursor = ctx.param("cursor")
        offset = decode_cursor(cursor, cql) if cursor else 0
    except ValueError as exc:
        return v1_error(400, f"Invalid limit or cursor: {exc}")
    admin = ctx.principal.confluence_admin
    account_id = ctx.principal.account.account_id
    pages = [
        p
        for p in ctx.site.iter_pages()
        if query.matches(p) and ctx.site.visible_to(account_id, p, admin=admin)
    ]
    if query.order_by:
        pages.sort(key=sort_key(query.order_by), reverse=query.descending)  # type: ignore[arg-type]
    chunk = pages[offset : offset + limit]
    next_path = None
    if offset + limit < len(pages):
        params = {
            "next": "true",
            "cursor": encode_cursor(offset + limit, cql),
            "expand": ctx.param("expand"),
            "limit": str(limit),
            "cql": cql,
        }
        next_path = f"{SEARCH_PATH}?{urlencode(params)}"
    ctx.charge(len(chunk), POINTS_PER_OBJECT["content"])
    return json_response(
        {
            "results": [v1_content(p, ctx.site, ctx.base, expand) for p in chunk],
            "start": offset,
            "limit": limit,
            "size": len(chunk),
            "_links": _links(ctx, SEARCH_PATH, next_path),
        }
    )
