"""Admin API routes of remediation and change watch (confluence-api.md §5.9, §5.10).

Shapes from the jira.js admin and user-management clients (mirroring Atlassian's Organizations
and User management REST APIs): ``MultiDirectoryUserDirectoryPage``,
``MultiDirectoryUserRoleAssignmentPage``, ``PollingEventPage``, ``EventActions``,
``TargetUnverifiedResponse``. What is undocumented is a switch in ``sim.behaviour`` and is
listed in docs/simulator.md.

- ``GET  /admin/v2/orgs/{orgId}/directories[?accountId&limit&cursor]``
- ``GET  /admin/v2/orgs/{orgId}/directories/{directoryId}/users/{accountId}``
- ``POST …/directories/{directoryId}/users/{accountId}/suspend`` | ``/restore``
- ``GET  …/directories/{directoryId}/users/{accountId}/role-assignments[?resourceIds&roleIds]``
- ``POST /admin/v1/orgs/{orgId}/users/{accountId}/roles/assign`` | ``/revoke`` ``{role, resource}``
- ``POST /users/{accountId}/manage/lifecycle/disable`` | ``/enable`` (managed accounts only)
- ``GET  /admin/v1/orgs/{orgId}/events-stream`` and ``/event-actions`` (Guard Standard)
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from simulator.actions import ActionError, Actor
from simulator.admin import AdminAuth, RoleView, admin_org, admin_route, directory_user
from simulator.context import origin
from simulator.errors import admin_error, json_response
from simulator.events import (
    DEFAULT_PAGE,
    EVENT_ACTIONS,
    MAX_PAGE,
    Event,
    StreamQuery,
    decode_stream_cursor,
    encode_stream_cursor,
)
from simulator.org import Directory
from simulator.roles import (
    KNOWN_ROLES,
    ORG_ADMIN,
    PRODUCT_ROLES,
    SITE_ADMIN,
    confluence_resource,
    org_resource,
    site_resource,
)
from simulator.site import Site

if TYPE_CHECKING:
    from simulator.core import Simulator

EVENTS_SCOPE = "read:events:admin"
GUARD_REQUIRED = "The organization's audit log needs an Atlassian Guard Standard subscription."
SUSPEND_MESSAGES = {
    True: "The user's access was suspended in the directory.",
    False: "The user's access was restored in the directory.",
}


def _actor(sim: Simulator, request: Request, key: str) -> Actor:
    """An Admin API call's actor: the organization admin who owns the key (the first site's
    admin operator), authenticated with an API token (only its hash is shown)."""
    site = sim.site
    admin = site.get_account(site.operators.get("admin", ""))
    client = request.client
    ip = client.host if client else None
    if admin is None:
        return Actor("admin", "Organization admin", auth_type="api-token", ip=ip)
    return Actor.of(admin, auth_type="api-token", secret=key, ip=ip)


def _action_error(exc: ActionError) -> Response:
    return admin_error(exc.status, exc.message)


def _user_account(sim: Simulator, request: Request) -> str | Response:
    """The account of a directory-user route, or the error to answer."""
    directory_id = str(request.path_params["directoryId"])
    account_id = str(request.path_params["accountId"])
    if directory_id != "-" and directory_id not in sim.org.directories:
        return admin_error(404, "Directory not found")
    mine = {d.directory_id for d in sim.actions.directories_of(account_id)}
    if not mine or (directory_id != "-" and directory_id not in mine):
        return admin_error(404, "User not found in the directory")
    return account_id


# ----- directories ------------------------------------------------------------------------


def _encode(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _decode(cursor: str) -> dict[str, Any]:
    try:
        raw = json.loads(base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()))
        if not isinstance(raw, dict):
            raise ValueError("not an object")
        return raw
    except ValueError as exc:
        raise ValueError("malformed cursor") from exc


def _directory_json(directory: Directory) -> dict[str, Any]:
    return {"directoryId": directory.directory_id, "name": directory.name}


def make_directories(sim: Simulator) -> Any:
    """GET /admin/v2/orgs/{orgId}/directories[?accountId&limit&cursor]: the organization's
    directories (or the account's); the next page's cursor in ``links.next`` ("if present, all
    other parameters are discarded")."""

    async def directories(request: Request, auth: AdminAuth) -> Response:
        params = request.query_params
        try:
            if params.get("cursor"):
                state = _decode(params["cursor"])
                account_id, offset, limit = state.get("a"), int(state["o"]), int(state["l"])
            else:
                account_id = params.get("accountId")
                offset = 0
                limit = int(params.get("limit") or sim.config.directories_default_limit)
        except (ValueError, KeyError, TypeError) as exc:
            return admin_error(400, f"Invalid request: {exc}")
        if limit < 1:
            return admin_error(400, "limit must be positive")
        limit = min(limit, sim.config.directories_max_limit)
        if account_id is None:
            found = list(sim.org.directories.values())
        else:
            found = sim.actions.directories_of(str(account_id))
        chunk = found[offset : offset + limit]
        more = offset + limit < len(found)
        following = _encode({"a": account_id, "o": offset + limit, "l": limit}) if more else None
        return json_response(
            {
                "data": [_directory_json(d) for d in chunk],
                "links": {"self": params.get("cursor"), "prev": None, "next": following},
            }
        )

    return admin_route(sim, directories)


def make_directory_user(sim: Simulator) -> Any:
    """GET …/directories/{directoryId}/users/{accountId} → {data: {…, membershipStatus}}
    (``membershipStatus`` is the organization-wide aggregate, as on the search)."""

    async def user(request: Request, auth: AdminAuth) -> Response:
        found = _user_account(sim, request)
        if isinstance(found, Response):
            return found
        entry = sim.directory_account(found)
        if entry is None:
            return admin_error(404, "User not found in the directory")
        site, account = entry
        return json_response({"data": directory_user(sim, site, account, frozenset())})

    return admin_route(sim, user)


def make_suspension(sim: Simulator, *, suspend: bool) -> Any:
    """POST …/directories/{directoryId}/users/{accountId}/suspend (or /restore): answers as
    ``behaviour.suspend_answer`` says (204, 200 + ``{"message"}``, or 200 with no body);
    repeating one is accepted the same way (undocumented)."""

    async def change(request: Request, auth: AdminAuth) -> Response:
        found = _user_account(sim, request)
        if isinstance(found, Response):
            return found
        directory_id = str(request.path_params["directoryId"])
        try:
            method = sim.actions.suspend if suspend else sim.actions.restore
            method(
                found,
                None if directory_id == "-" else directory_id,
                by=_actor(sim, request, auth[1]),
            )
        except ActionError as exc:
            return _action_error(exc)
        answer = sim.behaviour.suspend_answer
        if answer == "200-message":
            return json_response({"message": SUSPEND_MESSAGES[suspend]})
        if answer == "200-empty":
            return Response(b"", status_code=200)
        return Response(status_code=204)

    return admin_route(sim, change)


# ----- role assignments -------------------------------------------------------------------


def _multi(request: Request, name: str) -> set[str]:
    return {v for raw in request.query_params.getlist(name) for v in raw.split(",") if v}


def _assignment(
    resource: str,
    owner: str | None,
    roles: dict[str, tuple[str, ...]],
    directory_id: str | None,
    status: str | None,
) -> dict[str, Any]:
    entry: dict[str, Any] = {"resourceId": resource}
    if owner is not None:
        entry["resourceOwner"] = owner
    entry["roles"] = list(roles)  # deprecated by Atlassian, still returned
    entry["roleAssignments"] = [
        {"role": role, "roleAssignmentMethods": list(methods)} for role, methods in roles.items()
    ]
    entry["directoryId"] = directory_id
    entry["userDirectoryStatus"] = status
    return entry


def role_assignments(
    sim: Simulator,
    account_id: str,
    directory_id: str = "-",
    resource_ids: set[str] | None = None,
    role_ids: set[str] | None = None,
) -> list[dict[str, Any]]:
    """The account's role assignments per resource (``MultiDirectoryUserRoleAssignment``).

    Per site: the Confluence resource (product roles, with the directory it is mapped to and
    the account's ``userDirectoryStatus`` there: ``active`` | ``suspended`` | ``no_membership``)
    and, for a site admin, the site (``directoryId``/``userDirectoryStatus`` null, as for every
    platform role); an org admin also gets the organization. A resource named in
    ``resource_ids`` is listed even with no role, so its directory status can be read."""
    view = RoleView(sim)
    in_org = sim.directory_account(account_id) is not None
    entries: list[dict[str, Any]] = []

    def keep(roles: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        return {r: m for r, m in roles.items() if role_ids is None or r in role_ids}

    for site in sim.sites.values():
        directory = sim.org.directory_of(site)
        if directory_id not in ("-", directory.directory_id):
            continue
        held = {} if view.hidden(site, account_id) else view.roles(site, account_id)
        product = keep({r: m for r, m in held.items() if r in PRODUCT_ROLES})
        resource = confluence_resource(site.cloud_id)
        asked = resource_ids is not None and resource in resource_ids
        if (product or asked) and (resource_ids is None or asked):
            if sim.org.is_member(directory, account_id, in_org):
                status = "suspended" if account_id in directory.suspended else "active"
            else:
                status = "no_membership"
            entries.append(
                _assignment(resource, "confluence", product, directory.directory_id, status)
            )
        platform = keep({r: m for r, m in held.items() if r == SITE_ADMIN})
        if account_id in sim.org.admins and SITE_ADMIN not in held:
            platform = keep({SITE_ADMIN: ("inferred",)})
        resource = site_resource(site.cloud_id)
        if platform and (resource_ids is None or resource in resource_ids):
            entries.append(_assignment(resource, None, platform, None, None))
    if account_id in sim.org.admins and directory_id == "-":
        resource = org_resource(sim.org.org_id)
        roles = keep({ORG_ADMIN: ("direct",)})
        if roles and (resource_ids is None or resource in resource_ids):
            entries.append(_assignment(resource, None, roles, None, None))
    return entries


def make_role_assignments(sim: Simulator) -> Any:
    """GET …/directories/{directoryId}/users/{accountId}/role-assignments[?resourceIds&roleIds]
    (the read-back of role and suspension writes; one page)."""

    async def read(request: Request, auth: AdminAuth) -> Response:
        found = _user_account(sim, request)
        if isinstance(found, Response):
            return found
        resources = _multi(request, "resourceIds") or None
        roles = _multi(request, "roleIds") or None
        data = role_assignments(
            sim, found, str(request.path_params["directoryId"]), resources, roles
        )
        return json_response({"data": data, "links": {"self": None, "prev": None, "next": None}})

    return admin_route(sim, read)


def _site_for(sim: Simulator, role: str, resource: str) -> Site | Response:
    prefix = "ari:cloud:platform::site/" if role == SITE_ADMIN else "ari:cloud:confluence::site/"
    if not resource.startswith(prefix):
        return admin_error(400, f"Resource {resource!r} does not fit role {role!r}")
    site = sim.site_by_cloud_id(resource[len(prefix) :])
    if site is None:
        return admin_error(404, f"Resource {resource!r} not found")
    return site


def make_role_change(sim: Simulator, *, grant: bool) -> Any:
    """POST /admin/v1/orgs/{orgId}/users/{accountId}/roles/assign (or /revoke)
    ``{"role", "resource"}`` → 204. ``resource`` is the ARI the role is on (ignored for
    org-admin). Revoking a role held only through a group: ``behaviour.revoke_group_role``."""

    async def change(request: Request, auth: AdminAuth) -> Response:
        account_id = str(request.path_params["accountId"])
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError:
            return admin_error(400, "The request body is not valid JSON")
        role = body.get("role") if isinstance(body, dict) else None
        resource = body.get("resource") if isinstance(body, dict) else None
        if not isinstance(role, str) or role not in KNOWN_ROLES:
            return admin_error(400, f"role must be one of {sorted(KNOWN_ROLES)}")
        actor = _actor(sim, request, auth[1])
        try:
            if role == ORG_ADMIN:
                sim.actions.set_org_admin(account_id, grant, by=actor)
                return Response(status_code=204)
            if not isinstance(resource, str) or not resource:
                return admin_error(400, "resource is required for every role but org-admin")
            site = _site_for(sim, role, resource)
            if isinstance(site, Response):
                return site
            if site.get_account(account_id) is None:
                return admin_error(404, f"No user found with accountId : {account_id}")
            if grant:
                sim.actions.grant_role(account_id, role, site=site, by=actor)
                return Response(status_code=204)
            revoked = sim.actions.revoke_role(account_id, role, site=site, by=actor)
            through_group = site.groups_granting(account_id, role)
            if not revoked and through_group and sim.behaviour.revoke_group_role == "refuse":
                names = ", ".join(g.name for g in through_group)
                return admin_error(
                    400, f"The role is assigned through a group ({names}): remove the membership"
                )
        except ActionError as exc:
            return _action_error(exc)
        return Response(status_code=204)

    return admin_route(sim, change)


# ----- lifecycle (user management API) ------------------------------------------------------


def _lifecycle_error(exc: ActionError) -> Response:
    return json_response({"key": exc.key or "error", "message": exc.message}, exc.status)


def make_lifecycle(sim: Simulator, *, enable: bool) -> Any:
    """POST /users/{accountId}/manage/lifecycle/disable (or /enable), optional body
    ``{"message"}`` → 204. Managed accounts only: an unmanaged one → 403
    ``{"key": "forbidden.targetUnverified"}``; unknown → 404."""

    async def change(request: Request, auth: AdminAuth) -> Response:
        if auth[0] != sim.org.org_id:
            return json_response({"key": "forbidden", "message": "Not your account"}, 403)
        raw = await request.body()
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                return json_response({"key": "badRequest", "message": "Invalid JSON"}, 400)
            if not isinstance(body, dict) or not isinstance(body.get("message", ""), str):
                return json_response({"key": "badRequest", "message": "message: a string"}, 400)
        account_id = str(request.path_params["accountId"])
        try:
            method = sim.actions.reactivate if enable else sim.actions.deactivate
            method(account_id, by=_actor(sim, request, auth[1]))
        except ActionError as exc:
            return _lifecycle_error(exc)
        return Response(status_code=204)

    return admin_route(sim, change)


# ----- events -------------------------------------------------------------------------------


def _epoch_ms(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"{name} must be epoch milliseconds or an ISO 8601 time") from exc
    return int((parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp() * 1000)


def _events_gate(sim: Simulator, request: Request) -> AdminAuth | Response:
    auth = admin_org(sim, request, EVENTS_SCOPE)
    if isinstance(auth, Response):
        return auth
    if auth[0] == sim.org.org_id and not sim.org.guard_standard:
        return admin_error(403, GUARD_REQUIRED)
    return auth


def make_events_stream(sim: Simulator) -> Any:
    """GET /admin/v1/orgs/{orgId}/events-stream: first ``from=<epoch ms>&sortOrder=asc&limit``
    (≤ 200, more is capped), then ``cursor`` (other parameters discarded). The cursor is in
    ``meta.next`` — on every page, the last too — and ``links.next`` is the URL of the next
    read. Events in order of ``processedAt``; none before it is reached."""

    async def stream(request: Request, auth: AdminAuth) -> Response:
        params = request.query_params
        try:
            if params.get("cursor"):
                query = decode_stream_cursor(params["cursor"])
            else:
                order = params.get("sortOrder", "asc")
                if order not in ("asc", "desc"):
                    raise ValueError("sortOrder must be asc or desc")
                limit = int(params.get("limit") or DEFAULT_PAGE)
                if limit < 1:
                    raise ValueError("limit must be positive")
                query = StreamQuery(
                    after=None,
                    from_ms=_epoch_ms(params["from"], "from") if params.get("from") else None,
                    to_ms=_epoch_ms(params["to"], "to") if params.get("to") else None,
                    descending=order == "desc",
                    limit=min(limit, MAX_PAGE),
                )
        except ValueError as exc:
            return admin_error(400, f"Invalid request: {exc}")
        org_id = auth[0]
        events: list[Event]
        if org_id != sim.org.org_id:  # an organization with no data: an empty stream
            events, following = [], query
        else:
            events, following = sim.events.page(
                query, now=sim.clock.now(), duplicate_rate=sim.behaviour.event_duplicate_rate
            )
        api = f"{origin(request)}/api"
        path = f"{api}/admin/v1/orgs/{org_id}/events-stream"
        cursor = encode_stream_cursor(following)
        self_url = f"{path}?{request.url.query}" if request.url.query else path
        return json_response(
            {
                "data": [e.to_json(api, org_id) for e in events],
                "meta": {"next": cursor, "page_size": len(events)},
                "links": {
                    "self": self_url,
                    "prev": None,
                    "next": f"{path}?{urlencode({'cursor': cursor})}",
                },
            }
        )

    return admin_route(sim, stream, gate=_events_gate)


def make_event_actions(sim: Simulator) -> Any:
    """GET /admin/v1/orgs/{orgId}/event-actions: ``{data: [{id, type, attributes:
    {displayName, groupDisplayNames}}], links, meta}`` of the actions the simulator records."""

    async def actions(request: Request, auth: AdminAuth) -> Response:
        data = [
            {
                "id": action,
                "type": "event_actions",
                "attributes": {"displayName": display, "groupDisplayNames": [group]},
            }
            for action, (display, group) in EVENT_ACTIONS.items()
        ]
        url = f"{origin(request)}/api/admin/v1/orgs/{auth[0]}/event-actions"
        return json_response({"data": data, "links": {"self": url}, "meta": {"total": len(data)}})

    return admin_route(sim, actions, gate=_events_gate)
