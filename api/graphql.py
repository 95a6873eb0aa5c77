"""The GraphQL endpoint: authentication on HTTP and WebSocket, request ids, rate limits."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UNSET, UnsetType

from api.container import Container
from resolvers.context import Context
from resolvers.schema import build_schema

log = logging.getLogger(__name__)


def bearer_token(value: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` value, else None."""
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


class VigilGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI view with Vigil's authentication and limits."""

    def __init__(self, container: Container) -> None:
        settings = container.settings
        super().__init__(
            build_schema(
                development=settings.development,
                max_depth=settings.max_query_depth,
                max_aliases=settings.max_aliases,
                max_tokens=settings.max_tokens,
                max_cost=settings.max_query_cost,
            ),
            graphql_ide="graphiql" if settings.development else None,
            allow_queries_via_get=False,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
            allowed_origins=settings.cors_origin_list,
        )
        self.container = container

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        """Authenticate HTTP requests here; WebSockets authenticate in ``connection_init``."""
        request_id = uuid.uuid4().hex
        context = Context(
            services=self.container.services(),
            request_id=request_id,
            request=request,
            response=response,
        )
        if isinstance(request, WebSocket):
            return context
        if isinstance(response, Response):
            response.headers["X-Request-Id"] = request_id
        if request.method == "GET":
            return context  # GraphiQL page in development; queries over GET are refused.
        token = bearer_token(request.headers.get("authorization"))
        context.principal = await self.container.access.authenticate(token)
        if context.principal is None:
            raise HTTPException(401, "missing, invalid or revoked API key")
        if not self.container.rate_limiter.allow(context.principal.api_key_id):
            self.container.metrics.rate_limited.inc()
            raise HTTPException(429, "rate limit exceeded for this API key; retry shortly")
        return context

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Accept the connection only with a valid key in the ``connection_init`` payload."""
        params: dict[str, Any] = context.connection_params or {}
        raw = params.get("authorization") or params.get("Authorization")
        token = bearer_token(raw if isinstance(raw, str) else None)
        principal = await self.container.access.authenticate(token)
        if principal is None:
            raise ConnectionRejectionError()
        context.principal = principal
        accepted: UnsetType = UNSET
        return accepted
