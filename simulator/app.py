"""The simulator's Starlette app: Atlassian's hosts addressed by path prefix on one port.

/auth/...                          https://auth.atlassian.com
/api/...                           https://api.atlassian.com (/api/me: the User Identity API)
/oidc/...                          a small OpenID Connect provider (simulator/oidc.py)
/api/ex/confluence/{cloudId}/wiki  Confluence via the gateway (Bearer)
/site/{siteName}/...               https://{siteName}.atlassian.net (Basic)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import Receive, Scope, Send

from simulator import admin_writes, confluence_v1, confluence_v2, control, remediation
from simulator.admin import make_admin_search, make_tenant_info
from simulator.auth import authenticate
from simulator.context import Ctx
from simulator.core import RequestMeta, Simulator
from simulator.errors import error_for_route
from simulator.middleware import FaultMiddleware
from simulator.oauth import make_accessible_resources, make_authorize, make_me, make_token
from simulator.oidc import routes as oidc_routes
from simulator.routing import (
    ADMIN_DIRECTORIES,
    ADMIN_DIRECTORY_USER,
    ADMIN_RESTORE,
    ADMIN_ROLE_ASSIGNMENTS,
    ADMIN_ROLES_ASSIGN,
    ADMIN_ROLES_REVOKE,
    ADMIN_SEARCH,
    ADMIN_SUSPEND,
    CONFLUENCE_ENDPOINTS,
    EVENT_ACTIONS,
    EVENTS_STREAM,
    LIFECYCLE_DISABLE,
    LIFECYCLE_ENABLE,
)

_ALL_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"]
Handler = Callable[[Ctx], Awaitable[Response]]
HANDLERS: dict[str, Handler] = {
    "/wiki/rest/api/user/current": confluence_v1.current_user,
    "/wiki/rest/api/group": confluence_v1.groups,
    "/wiki/rest/api/group/{groupId}/membersByGroupId": confluence_v1.group_members,
    "/wiki/rest/api/content/search": confluence_v1.content_search,
    "/wiki/api/v2/users-bulk": confluence_v2.users_bulk,
    "/wiki/api/v2/pages/{id}": confluence_v2.page,
    "/wiki/api/v2/spaces": confluence_v2.spaces,
    "/wiki/rest/api/user/memberof": confluence_v1.member_of,
}
# Endpoints whose path serves more than one method.
METHOD_HANDLERS: dict[tuple[str, str], Handler] = {
    ("DELETE", remediation.REMOVE_MEMBER): remediation.remove_member,
    ("POST", remediation.REMOVE_MEMBER): remediation.add_member,
}


def _confluence_endpoint(
    sim: Simulator, handler: Handler
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        meta: RequestMeta = request.scope["vigil"]
        result = authenticate(sim, request, meta.route)
        if isinstance(result, Response):
            return result
        site, principal = result
        await request.body()  # read before taking the lock: handlers then never wait on I/O
        with site.lock:  # consistent reads while tests mutate the site from another thread
            return await handler(Ctx(sim, site, principal, request, meta))

    return endpoint


async def _not_found(request: Request) -> Response:
    return error_for_route(request.url.path, 404, "Not Found")


def _routes(sim: Simulator) -> list[BaseRoute]:
    confluence: list[BaseRoute] = [
        Route(
            path,
            _confluence_endpoint(sim, METHOD_HANDLERS.get((method, path)) or HANDLERS[path]),
            methods=[method],
        )
        for method, path in CONFLUENCE_ENDPOINTS
    ]
    confluence.append(Route("/{path:path}", _not_found, methods=_ALL_METHODS))
    return [
        Route("/auth/authorize", make_authorize(sim), methods=["GET", "POST"]),
        Route("/auth/oauth/token", make_token(sim), methods=["POST"]),
        Route(
            "/api/oauth/token/accessible-resources", make_accessible_resources(sim), methods=["GET"]
        ),
        Route("/api/me", make_me(sim), methods=["GET"]),
        *oidc_routes(sim.oidc),
        Route("/api" + ADMIN_SEARCH, make_admin_search(sim), methods=["POST"]),
        # Admin API calls of remediation and change watch
        *_admin_routes(sim),
        *control.routes(sim),
        Mount("/api/ex/confluence/{cloudId}", routes=confluence),
        Route("/site/{siteName}/_edge/tenant_info", make_tenant_info(sim), methods=["GET"]),
        Mount("/site/{siteName}", routes=confluence),
        Route("/{path:path}", _not_found, methods=_ALL_METHODS),
    ]


def _admin_routes(sim: Simulator) -> list[BaseRoute]:
    w = admin_writes
    table: list[tuple[str, str, Callable[[Request], Awaitable[Response]]]] = [
        ("GET", ADMIN_DIRECTORIES, w.make_directories(sim)),
        ("GET", ADMIN_DIRECTORY_USER, w.make_directory_user(sim)),
        ("POST", ADMIN_SUSPEND, w.make_suspension(sim, suspend=True)),
        ("POST", ADMIN_RESTORE, w.make_suspension(sim, suspend=False)),
        ("GET", ADMIN_ROLE_ASSIGNMENTS, w.make_role_assignments(sim)),
        ("POST", ADMIN_ROLES_ASSIGN, w.make_role_change(sim, grant=True)),
        ("POST", ADMIN_ROLES_REVOKE, w.make_role_change(sim, grant=False)),
        ("POST", LIFECYCLE_DISABLE, w.make_lifecycle(sim, enable=False)),
        ("POST", LIFECYCLE_ENABLE, w.make_lifecycle(sim, enable=True)),
        ("GET", EVENTS_STREAM, w.make_events_stream(sim)),
        ("GET", EVENT_ACTIONS, w.make_event_actions(sim)),
    ]
    return [Route("/api" + path, endpoint, methods=[method]) for method, path, endpoint in table]


class SimulatorApp(Starlette):
    """Starlette app whose outermost layer is the fault/counter middleware."""

    def __init__(self, sim: Simulator) -> None:
        super().__init__(routes=_routes(sim))
        self.sim = sim
        self._outer = FaultMiddleware(self._inner, sim)

    async def _inner(self, scope: Scope, receive: Receive, send: Send) -> None:
        await super().__call__(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._outer(scope, receive, send)


def create_simulator_app(sim: Simulator) -> Starlette:
    """The ASGI app serving every simulated Atlassian host for `sim`."""
    return SimulatorApp(sim)
