"""Confluence REST v2 endpoints: users-bulk, page by id, spaces."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from starlette.responses import Response

from simulator.context import Ctx, decode_cursor, encode_cursor, parse_int
from simulator.errors import json_response, v2_error
from simulator.ratelimit import POINTS_PER_OBJECT
from simulator.render import v2_page, v2_space, v2_user

BODY_FORMATS = (
    "storage",
    "atlas_doc_format",
    "view",
    "export_view",
    "anonymous_export_view",
    "styled_view",
    "editor",
)
SPACES_PATH = "/wiki/api/v2/spaces"


async def users_bulk(ctx: Ctx) -> Response:
    """POST /wiki/api/v2/users-bulk {"accountIds": [...]} (1-250 ids)."""
    try:
        payload = json.loads(await ctx.request.body() or b"null")
    except ValueError:
        return v2_error(400, "Invalid request body", "The request body is not valid JSON.")
    ids = payload.get("accountIds") if isinstance(payload, dict) else None
    maximum = ctx.sim.config.users_bulk_max
    if (
        not isinstance(ids, list)
        or not all(isinstance(i, str) for i in ids)
        or not 1 <= len(ids) <= maximum
    ):
        return v2_error(
            400,
            f"Provided value for 'accountIds' is not valid. It must hold 1 to {maximum} ids.",
        )
    accounts = ctx.site.accounts
    found = [accounts[i] for i in dict.fromkeys(ids) if i in accounts]
    ctx.charge(len(found), POINTS_PER_OBJECT["user"])
    return json_response({"results": [v2_user(a) for a in found], "_links": {}})


async def page(ctx: Ctx) -> Response:
    """GET /wiki/api/v2/pages/{id}[?body-format=storage]."""
    page_id = ctx.request.path_params["id"]
    if not page_id.isdigit():
        return v2_error(400, f"Provided value {page_id!r} for 'id' is not the correct type.")
    fmt = ctx.param("body-format")
    if fmt and fmt not in BODY_FORMATS:
        return v2_error(400, f"Provided value {fmt!r} for 'body-format' is not valid.")
    found = ctx.site.pages.get(page_id)
    statuses = ctx.request.query_params.getlist("status")
    wanted = {s for value in statuses for s in value.split(",") if s}
    visible = found is not None and ctx.site.visible_to(
        ctx.principal.account.account_id, found, admin=ctx.principal.confluence_admin
    )
    if found is None or not visible or (wanted and found.status not in wanted):
        return v2_error(404, detail=f"Page {page_id} not found")
    ctx.charge(1, POINTS_PER_OBJECT["content"])
    labels = ctx.param("include-labels").lower() == "true"
    body = v2_page(found, ctx.site, fmt, labels=labels)
    body["_links"]["base"] = f"{ctx.base}/wiki"
    return json_response(body)


def _multi(ctx: Ctx, name: str) -> set[str]:
    return {v for raw in ctx.request.query_params.getlist(name) for v in raw.split(",") if v}


async def spaces(ctx: Ctx) -> Response:
    """GET /wiki/api/v2/spaces?limit&cursor (1-250, default 25; Link header + _links.next)."""
    config = ctx.sim.config
    filters = {n: _multi(ctx, n) for n in ("ids", "keys", "type", "status")}
    scope = json.dumps({k: sorted(v) for k, v in filters.items()})
    try:
        limit = parse_int(ctx.param("limit"), config.v2_default_limit)
        cursor = ctx.param("cursor")
        offset = decode_cursor(cursor, scope) if cursor else 0
    except ValueError as exc:
        return v2_error(400, f"Invalid limit or cursor: {exc}")
    if not 1 <= limit <= config.v2_max_limit:
        return v2_error(400, f"'limit' must be between 1 and {config.v2_max_limit}.")
    admin = ctx.principal.confluence_admin
    found = [
        s
        for s in sorted(ctx.site.spaces.values(), key=lambda s: int(s.space_id))
        if (admin or not s.restricted)
        and (not filters["ids"] or s.space_id in filters["ids"])
        and (not filters["keys"] or s.key in filters["keys"])
        and (not filters["type"] or s.type in filters["type"])
        and (not filters["status"] or s.status in filters["status"])
    ]
    chunk = found[offset : offset + limit]
    links: dict[str, str] = {"base": f"{ctx.base}/wiki"}
    headers: dict[str, str] = {}
    if offset + limit < len(found):
        params = [(k, ",".join(sorted(v))) for k, v in filters.items() if v]
        params += [("limit", str(limit)), ("cursor", encode_cursor(offset + limit, scope))]
        links["next"] = f"{SPACES_PATH}?{urlencode(params)}"
        headers["Link"] = f'<{links["next"]}>; rel="next", <{ctx.base}/wiki>; rel="base"'
    ctx.charge(len(chunk), POINTS_PER_OBJECT["space"])
    return json_response({"results": [v2_space(s) for s in chunk], "_links": links}, 200, headers)
