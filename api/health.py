"""Liveness, readiness and metrics endpoints."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.container import Container
from api.http_errors import Unavailable
from api.metrics import CONTENT_TYPE_LATEST


def health_routes(container: Container) -> list[Route]:
    """``/healthz`` (process up), ``/readyz`` (store reachable, else 503 ``UNAVAILABLE``),
    ``/metrics``."""

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        if await container.store.ping():
            return JSONResponse({"status": "ready", "embeddedStore": container.store.embedded})
        raise Unavailable("database unreachable")

    async def metrics(request: Request) -> Response:
        return Response(container.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
