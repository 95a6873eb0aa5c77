"""ASGI layer that counts requests, injects faults and adds rate-limit headers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from simulator.core import RequestMeta, Simulator
from simulator.counters import DROPPED
from simulator.errors import error_for_route, reason
from simulator.faults import Decision
from simulator.ratelimit import NOMINAL_LIMIT, quota_headers, usage_headers
from simulator.routing import RouteInfo, classify

log = logging.getLogger("simulator")
Headers = list[tuple[bytes, bytes]]


async def close_connection(send: Send, receive: Receive) -> None:
    """Close the client's TCP connection without (completing) a response.

    Under uvicorn, `send` is bound to the request cycle that owns the transport; closing it
    gives the client a genuine connection error. Elsewhere, raising makes the server close it.
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        raise ConnectionAbortedError("simulated connection drop")
    transport.close()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(2):
            while (await receive())["type"] != "http.disconnect":
                pass


class FaultMiddleware:
    """Wraps the simulator's Starlette app (outermost, so `send` is the server's own)."""

    def __init__(self, app: ASGIApp, sim: Simulator) -> None:
        self.app = app
        self.sim = sim

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = classify(scope["method"], scope["path"])
        meta = RequestMeta(route, tenant=self._tenant(route))
        scope["vigil"] = meta
        # Writes whose lag is over become visible before anything is read (behaviour.lag).
        self.sim.apply_due_writes()
        if route.family == "control":  # the simulator's own control surface: not Atlassian's
            await self.app(scope, receive, send)
            return
        await self._handle(scope, receive, send, meta)

    def _tenant(self, route: RouteInfo) -> str | None:
        if route.family != "confluence" or route.site_ref is None:
            return None
        if route.host == "api":
            return route.site_ref
        site = self.sim.sites.get(route.site_ref)
        return site.cloud_id if site else None

    async def _handle(self, scope: Scope, receive: Receive, send: Send, meta: RequestMeta) -> None:
        """Answer one request; counts are recorded before the client can see the outcome."""
        sim, route = self.sim, meta.route
        decision = sim.faults.decide(route)
        if decision.delay_s:
            sim.counters.record_fault("latency")
            await asyncio.sleep(decision.delay_s)
        if decision.action is None:
            decision.action = self._quota_action(meta)
        if decision.action == "drop":
            sim.counters.record_fault("drop")
            sim.counters.record(route.name, DROPPED)
            await close_connection(send, receive)
            return
        if decision.action is not None:
            sim.counters.record_fault(decision.action)
            response = self._canned(route, decision)
            sim.counters.record(route.name, response.status_code)
            await response(scope, receive, send)
            return
        start, body = await self._capture(scope, receive)
        headers: Headers = list(start.get("headers", []))
        status = int(start["status"])
        if meta.tenant and status != 401 and sim.faults.config.quota_limit is not None:
            used = sim.quota.charge(meta.tenant, 1 + meta.points)
            extra = usage_headers(sim.faults.config.quota_limit, used, sim.quota.window_end())
            headers += [(k.lower().encode(), v.encode()) for k, v in extra.items()]
        if decision.modifier:
            sim.counters.record_fault(decision.modifier)
        sim.counters.record(route.name, status)
        await self._emit(send, receive, status, headers, body, decision.modifier)

    def _quota_action(self, meta: RequestMeta) -> str | None:
        limit = self.sim.faults.config.quota_limit
        if limit is None or meta.tenant is None or not self.sim.faults.applies(meta.route):
            return None
        return "quota" if self.sim.quota.used(meta.tenant) >= limit else None

    def _canned(self, route: RouteInfo, decision: Decision) -> Response:
        sim, action, scripted = self.sim, decision.action, decision.scripted
        cfg = sim.faults.config
        headers: dict[str, str] = {}
        if action == "quota":
            now = sim.clock.now()
            reset_at = sim.faults.quota_blocked() or sim.quota.window_end()
            headers = quota_headers(
                cfg.quota_limit or NOMINAL_LIMIT,
                reset_at,
                now,
                sim.faults.quota_reason,
                beta=sim.faults.next_quota_429_is_beta(),
            )
            status = 429
        elif action in ("429", "503"):
            status = int(action)
            headers["Retry-After"] = str(decision.retry_after)
        else:
            status = scripted.status if scripted else 500
        if scripted is not None:
            headers.update(scripted.headers)
            if scripted.body is not None:
                return Response(scripted.body, status, headers, scripted.content_type)
        if cfg.plain_text_errors:
            return Response(reason(status), status, headers, "text/plain; charset=utf-8")
        message = "Rate limit exceeded." if status == 429 else reason(status)
        return error_for_route(route.name, status, message, **headers)

    async def _capture(self, scope: Scope, receive: Receive) -> tuple[Message, bytes]:
        start: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        try:
            await self.app(scope, receive, capture)
        except Exception:
            log.exception("simulator handler failed")
            if not start:
                start = {"type": "http.response.start", "status": 500, "headers": []}
                chunks = [b"Internal Server Error"]
        return start, b"".join(chunks)

    async def _emit(
        self,
        send: Send,
        receive: Receive,
        status: int,
        headers: Headers,
        body: bytes,
        modifier: str | None,
    ) -> None:
        cfg = self.sim.faults.config
        headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
        if modifier == "truncate" and cfg.truncate_mode == "json":
            body = body[: len(body) // 2]
        headers.append((b"content-length", str(len(body)).encode()))
        start: dict[str, Any] = {
            "type": "http.response.start",
            "status": status,
            "headers": headers,
        }
        await send(start)
        if modifier == "truncate" and cfg.truncate_mode != "json":
            await send(
                {"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True}
            )
            await close_connection(send, receive)
            return
        if modifier == "slow":
            parts = max(1, cfg.slow_chunks)
            size = max(1, -(-len(body) // parts))
            for offset in range(0, len(body), size):
                await asyncio.sleep(cfg.slow_chunk_delay_ms / 1000)
                await send(
                    {
                        "type": "http.response.body",
                        "body": body[offset : offset + size],
                        "more_body": True,
                    }
                )
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        await send({"type": "http.response.body", "body": body, "more_body": False})
