"""Browser origins: development defaults and a log line that says how to allow one.

A refused origin is logged once per origin, naming ``VIGIL_CORS_ORIGINS`` (the setting that
allows it), for HTTP (CORS) and WebSocket handshakes alike.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger("vigil.cors")

#: Common frontend dev servers (Next.js / CRA on 3000, Vite on 5173), development only.
DEVELOPMENT_ORIGINS = (
    "http://localhost:3000",
    "http://127.0.0.1:3000",
    "http://localhost:5173",
    "http://127.0.0.1:5173",
)


def development_origins(development: bool) -> list[str]:
    """The dev-server origins allowed by default in development mode (none otherwise)."""
    return list(DEVELOPMENT_ORIGINS) if development else []


def _same_origin(origin: str, host: str | None) -> bool:
    return host is not None and origin.split("://", 1)[-1] == host


class _ReplacedOriginWarning(logging.Filter):
    """Drops Strawberry's refusal line: ours names the setting instead of a code parameter."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Rejected WebSocket connection from origin")


_STRAWBERRY_WS = logging.getLogger("strawberry.ws")


class OriginLoggingCORS(CORSMiddleware):
    """Starlette's CORS, plus one warning per refused browser origin naming the setting."""

    def __init__(self, app: ASGIApp, *args: Any, **kwargs: Any) -> None:
        super().__init__(app, *args, **kwargs)
        self._refused: set[str] = set()
        if not any(isinstance(f, _ReplacedOriginWarning) for f in _STRAWBERRY_WS.filters):
            _STRAWBERRY_WS.addFilter(_ReplacedOriginWarning())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Log a refused origin, then apply CORS as Starlette does."""
        if scope["type"] in ("http", "websocket"):
            headers = Headers(scope=scope)
            origin = headers.get("origin")
            if (
                origin
                and not self.is_allowed_origin(origin)
                and not _same_origin(origin, headers.get("host"))
            ):
                self._warn(origin, scope["type"])
        await super().__call__(scope, receive, send)

    def _warn(self, origin: str, kind: str) -> None:
        if origin in self._refused or len(self._refused) > 1000:
            return
        self._refused.add(origin)
        allowed = ", ".join(self.allow_origins) or "none"
        log.warning(
            "refused %s request from browser origin %s: allowed origins are %s; add it to "
            "VIGIL_CORS_ORIGINS (comma-separated) to allow it",
            "WebSocket" if kind == "websocket" else "cross-origin HTTP",
            origin,
            allowed,
        )
