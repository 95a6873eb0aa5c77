"""The ASGI application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from api.audit_package import audit_routes
from api.budgets import AddressGate
from api.console import console_dir, console_routes
from api.container import Container
from api.cors import OriginLoggingCORS
from api.evidence_export import evidence_routes
from api.graphiql import OfflineGraphiQL, asset_dir, graphiql_routes
from api.graphql import VigilGraphQL
from api.health import health_routes
from api.http_errors import EXCEPTION_HANDLERS, RequestIdMiddleware
from api.oauth import oauth_routes
from api.people_import import people_routes
from api.settings import Settings
from api.signin import signin_routes
from services.models import CreatedApiKey, Organization
from services.store import Store

log = logging.getLogger(__name__)

BootstrapReporter = Callable[[Organization, CreatedApiKey], None]


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    bootstrap: BootstrapReporter | None = None,
) -> Starlette:
    """Build the app for ``settings``; ``bootstrap`` receives a first org if one is created."""
    container = Container.build(settings, store)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await container.start()
        if bootstrap is not None:
            created = await container.services.organizations.ensure_bootstrap_organization(
                "Default organization"
            )
            if created is not None:
                bootstrap(*created)
        try:
            yield
        finally:
            await container.stop()

    graphql = VigilGraphQL(container)
    graphiql_assets = asset_dir() if settings.development else None
    if settings.development and graphiql_assets is None:
        log.warning("GraphiQL assets not installed: GraphiQL will load them from a CDN")
    app = Starlette(
        routes=[
            *(graphiql_routes(graphiql_assets) if graphiql_assets else []),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            *health_routes(container),
            *oauth_routes(container),
            *signin_routes(container),
            *people_routes(container),
            *evidence_routes(container),
            *audit_routes(container),
            *console_routes(console_dir(settings.console_dir)),
        ],
        middleware=[
            # Behind trusted proxies only: the client named by X-Forwarded-For becomes the
            # request's client (per-address limits, logs); anyone else's header is ignored.
            *(
                [Middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxy_list)]
                if settings.trusted_proxy_list
                else []
            ),
            Middleware(RequestIdMiddleware),
            # A flooded address is refused before routing, body or GraphQL (api/budgets.py).
            Middleware(AddressGate, limiter=container.address_limiter),
            Middleware(MetricsMiddleware, container=container),
            Middleware(
                OriginLoggingCORS,
                allow_origins=settings.cors_origin_list,
                allow_methods=["GET", "POST"],
                allow_headers=["authorization", "content-type", "x-vigil-csrf"],
                allow_credentials=True,
                expose_headers=["x-request-id"],
            ),
            *([Middleware(OfflineGraphiQL)] if graphiql_assets else []),
        ],
        exception_handlers=dict(EXCEPTION_HANDLERS),
        lifespan=lifespan,
    )
    app.state.container = container
    return app


class MetricsMiddleware:
    """Counts HTTP requests by route template and status."""

    def __init__(self, app: ASGIApp, container: Container) -> None:
        self.app = app
        self.metrics = container.metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Record the response status of each HTTP request."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            self.metrics.http_requests.labels(scope["method"], path, str(status)).inc()
