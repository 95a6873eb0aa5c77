"""The simulator's own control surface over HTTP, for tests and the control CLI.

Not an Atlassian API: every path is under ``/_simulator``, needs no credentials (the simulator
serves loopback tests and demos), is never counted in ``sim.counters`` and never faulted.

| method and path | body (JSON) → answer |
|---|---|
| ``GET /_simulator`` | → ``{orgId, sites, behaviour, guardStandard, pendingWrites, events}`` |
| ``POST /_simulator/actions/{action}`` | see ``ACTIONS``; → ``{"changed": n}`` |
| ``GET``/``POST /_simulator/behaviour`` | switches in camelCase (``lagSeconds``, …) → all |
| ``POST /_simulator/guard`` | ``{"enabled": bool}`` → ``{"guardStandard"}`` |
| ``GET /_simulator/counters`` | → ``sim.counters.snapshot()`` (``byRoute``: "METHOD /path") |
| ``POST /_simulator/counters/reset`` | → ``{}`` |
| ``POST /_simulator/writes/apply`` | ``{"everything": bool}`` → ``{"applied": n}`` |
| ``POST /_simulator/clock`` | ``{"advanceSeconds": s}`` or ``{"reset": true}`` → ``{"now"}`` |
| ``GET /_simulator/access[?site=name]`` | → ``{accountId: bool}`` (ground truth) |
| ``POST /_simulator/events/duplicate`` | ``{"pages": n}`` → ``{}`` |
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from simulator.actions import ActionError
from simulator.errors import json_response
from simulator.model import iso
from simulator.roles import USER
from simulator.routing import CONTROL_PREFIX

if TYPE_CHECKING:
    from simulator.core import Simulator

Body = dict[str, Any]


def _text(body: Body, name: str, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} (a non-empty string) is required")
    return value


def _account(body: Body) -> str:
    return str(_text(body, "accountId"))


def _run_action(sim: Simulator, action: str, body: Body) -> int:
    a = sim.actions
    site = _text(body, "site", required=False)
    role = _text(body, "role", required=False) or USER
    directory = _text(body, "directoryId", required=False)
    table: dict[str, Callable[[], bool | int]] = {
        "grant-access": lambda: a.grant_role(_account(body), role, site=site),
        "revoke-access": lambda: a.revoke_role(_account(body), role, site=site),
        "add-member": lambda: a.add_member(str(_text(body, "group")), _account(body), site=site),
        "remove-member": lambda: a.remove_member(
            str(_text(body, "group")), _account(body), site=site
        ),
        "suspend": lambda: a.suspend(_account(body), directory),
        "restore": lambda: a.restore(_account(body), directory),
        "deactivate": lambda: a.deactivate(_account(body)),
        "reactivate": lambda: a.reactivate(_account(body)),
        "org-admin": lambda: a.set_org_admin(_account(body), bool(body.get("admin", True))),
        "idp-push": lambda: a.idp_push(site=site),
    }
    run = table.get(action)
    if run is None:
        raise LookupError(f"unknown action {action!r}; one of {sorted(table)}")
    return int(run())


ACTIONS = (
    "grant-access",
    "revoke-access",
    "add-member",
    "remove-member",
    "suspend",
    "restore",
    "deactivate",
    "reactivate",
    "org-admin",
    "idp-push",
)


async def _body(request: Request) -> Body:
    raw = await request.body()
    data = json.loads(raw) if raw else {}
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


def _error(status: int, message: str) -> Response:
    return json_response({"error": message}, status)


def _endpoint(
    handler: Callable[[Request, Body], Response],
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            body = await _body(request) if request.method == "POST" else {}
            return handler(request, body)
        except ActionError as exc:
            return _error(exc.status, exc.message)
        except LookupError as exc:
            return _error(404, str(exc))
        except (ValueError, TypeError) as exc:
            return _error(400, str(exc))

    return endpoint


def routes(sim: Simulator) -> list[BaseRoute]:
    """The control routes of ``sim`` (mounted by the app)."""

    def summary(request: Request, body: Body) -> Response:
        return json_response(
            {
                "orgId": sim.org.org_id,
                "sites": {s.name: s.cloud_id for s in sim.sites.values()},
                "directories": list(sim.org.directories),
                "behaviour": sim.behaviour.as_json(),
                "guardStandard": sim.org.guard_standard,
                "pendingWrites": sim.pending_writes(),
                "events": len(sim.events.events),
            }
        )

    def action(request: Request, body: Body) -> Response:
        changed = _run_action(sim, str(request.path_params["action"]), body)
        return json_response({"changed": changed})

    def behaviour(request: Request, body: Body) -> Response:
        if request.method == "POST":
            sim.behaviour.configure_camel(body)
        return json_response(sim.behaviour.as_json())

    def guard(request: Request, body: Body) -> Response:
        enabled = body.get("enabled")
        if not isinstance(enabled, bool):
            raise ValueError("enabled (true or false) is required")
        sim.org.guard_standard = enabled
        return json_response({"guardStandard": enabled})

    def counters(request: Request, body: Body) -> Response:
        return json_response(sim.counters.snapshot())

    def counters_reset(request: Request, body: Body) -> Response:
        sim.counters.reset()
        return json_response({})

    def writes(request: Request, body: Body) -> Response:
        applied = sim.apply_due_writes(everything=bool(body.get("everything", False)))
        return json_response({"applied": applied, "pendingWrites": sim.pending_writes()})

    def clock(request: Request, body: Body) -> Response:
        if body.get("reset"):
            sim.clock.reset()
        seconds = body.get("advanceSeconds", 0)
        if not isinstance(seconds, int | float):
            raise ValueError("advanceSeconds must be a number")
        sim.clock.advance(float(seconds))
        sim.apply_due_writes()
        return json_response({"now": iso(sim.clock.now())})

    def access(request: Request, body: Body) -> Response:
        site = request.query_params.get("site")
        return json_response(sim.confluence_access(site))

    def duplicate(request: Request, body: Body) -> Response:
        pages = body.get("pages", 1)
        if not isinstance(pages, int) or pages < 0:
            raise ValueError("pages must be a non-negative integer")
        sim.events.duplicate_next(pages)
        return json_response({})

    p = CONTROL_PREFIX
    return [
        Route(p, _endpoint(summary), methods=["GET"]),
        Route(p + "/", _endpoint(summary), methods=["GET"]),
        Route(p + "/actions/{action}", _endpoint(action), methods=["POST"]),
        Route(p + "/behaviour", _endpoint(behaviour), methods=["GET", "POST"]),
        Route(p + "/guard", _endpoint(guard), methods=["POST"]),
        Route(p + "/counters", _endpoint(counters), methods=["GET"]),
        Route(p + "/counters/reset", _endpoint(counters_reset), methods=["POST"]),
        Route(p + "/writes/apply", _endpoint(writes), methods=["POST"]),
        Route(p + "/clock", _endpoint(clock), methods=["POST"]),
        Route(p + "/access", _endpoint(access), methods=["GET"]),
        Route(p + "/events/duplicate", _endpoint(duplicate), methods=["POST"]),
    ]
