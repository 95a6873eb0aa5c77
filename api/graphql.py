"""The GraphQL endpoint: authentication on HTTP and WebSocket, request ids, limits.

Every refusal at the transport (bad body, missing key, rate limit, body too large,
database down) is raised as an ``api.http_errors.ApiError`` and answered in the one error
shape, with the request id::

    {"errors": [{"message": "...", "extensions": {"code": "RATE_LIMITED", "retryAfter": 3,
                                                  "requestId": "..."}}]}

Strawberry's own refusals (a body without a query, a query over GET, ...) become the same.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult

from api.container import Container, credential_check
from api.http_errors import ApiError, request_id
from api.http_requests import SESSION_COOKIE, authenticate, bearer_token, read_body
from api.sockets import (
    CLOSE_TOO_MANY,
    CLOSE_UNAVAILABLE,
    SocketLimits,
    VigilTransportWSHandler,
    VigilWebSocketAdapter,
    close_socket,
)
from resolvers.context import Context
from resolvers.schema import build_schema
from resolvers.strawberry_adapter import StrawberryHTTPError, UnsetType
from services.models import Principal

log = logging.getLogger(__name__)


class _BadJson(json.JSONDecodeError):
    """A body or frame that is not usable JSON, with the reason to show."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, "", 0)
        self.reason = reason


class VigilGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI view with Vigil's authentication and limits."""

    graphql_transport_ws_handler_class = VigilTransportWSHandler
    websocket_adapter_class = VigilWebSocketAdapter

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
        self.sockets = container.sockets
        self.socket_limits = SocketLimits(
            limiter=container.rate_limiter,
            key_valid=credential_check(container.services.api_keys, container.services.sessions),
            registry=self.sockets,
            recheck_seconds=settings.key_recheck_seconds,
            operation_timeout=settings.operation_timeout_seconds,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """HTTP: the body within its limit, refusals as ``ApiError``; WebSocket: Strawberry's."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        if scope["method"] == "POST":
            receive = await self._replayed_body(Request(scope, receive))
        try:
            response = await self.run(Request(scope, receive))
        except StrawberryHTTPError as e:  # Strawberry's own refusal: the one error shape
            raise ApiError(e.status_code, e.reason) from None
        await response(scope, receive, send)

    async def _replayed_body(self, request: Request) -> Receive:
        """Read the whole body (at most ``max_body_bytes``) and replay it to Strawberry."""
        body = await read_body(request, self.container.settings.max_body_bytes)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await request.receive()

        return replay

    def decode_json(self, data: str | bytes) -> object:
        """JSON of a body or a frame; non-UTF-8 and absurd nesting are JSON errors too."""
        try:
            text = data.decode("utf-8") if isinstance(data, bytes) else data
        except UnicodeDecodeError:
            raise _BadJson("the body is not UTF-8 text") from None
        try:
            return json.loads(text)
        except RecursionError:
            raise _BadJson("the JSON is nested too deeply") from None

    def parse_json(self, data: str | bytes) -> Any:
        """An HTTP body: a single JSON object (batches are not supported)."""
        try:
            value = self.decode_json(data)
        except _BadJson as e:
            raise ApiError(400, e.reason) from e
        except json.JSONDecodeError as e:
            raise ApiError(400, "Unable to parse request body as JSON") from e
        if not isinstance(value, dict):
            raise ApiError(400, "the request body must be a JSON object")
        return value

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        """Authenticate HTTP requests here; WebSockets authenticate in ``connection_init``."""
        context = Context(
            services=self.container.services,
            request_id=request_id(request.scope),
            request=request,
            response=response,
        )
        if isinstance(request, WebSocket):
            context.transport = "websocket"
            return context
        if request.method == "GET":
            return context  # GraphiQL page in development; queries over GET are refused.
        context.principal = await authenticate(self.container, request)
        return context

    async def execute_single(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        """One HTTP operation within the time budget (``operation_timeout_seconds``)."""
        budget = self.container.settings.operation_timeout_seconds
        try:
            async with asyncio.timeout(budget):
                return await super().execute_single(*args, **kwargs)
        except TimeoutError:
            context = kwargs.get("context")
            rid = getattr(context, "request_id", "unknown")
            log.warning("operation exceeded %s s (request id %s)", budget, rid)
            error = GraphQLError(
                f"the operation exceeded its time budget of {budget:g} s",
                extensions={"code": "TIMEOUT", "requestId": rid},
            )
            return ExecutionResult(data=None, errors=[error])

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Accept the connection only with a valid key (in ``connection_init``) or session
        cookie (from an allowed origin), within the credential's socket cap."""
        params: dict[str, Any] = context.connection_params or {}
        raw = params.get("authorization") or params.get("Authorization")
        socket: WebSocket = context.request
        cookie = None if raw else socket.cookies.get(SESSION_COOKIE)
        try:
            if cookie is not None:
                principal = await self._session_principal(socket, cookie)
            else:
                token = bearer_token(raw if isinstance(raw, str) else None)
                principal = await self.container.services.api_keys.authenticate(token)
        except Exception:
            log.exception("authentication of a WebSocket failed")
            reason = "the service cannot check credentials right now; retry shortly"
            await close_socket(context.response, CLOSE_UNAVAILABLE, reason)
            raise ConnectionRejectionError() from None
        if principal is None:
            raise ConnectionRejectionError()
        if not self.sockets.add(principal, context.response):
            limit = self.container.settings.max_websockets_per_key
            reason = f"at most {limit} open WebSockets per API key or session"
            await close_socket(context.response, CLOSE_TOO_MANY, reason)
            raise ConnectionRejectionError()
        context.principal = principal
        return await super().on_ws_connect(context)

    async def _session_principal(self, socket: WebSocket, cookie: str) -> Principal | None:
        """The person of a session cookie, only from an origin Vigil serves or allows (a
        browser always sends one; a cross-site page's socket is refused even with the
        cookie)."""
        if socket.headers.get("origin") not in self.container.settings.browser_origins:
            log.warning("refused a cookie-authenticated WebSocket from another origin")
            return None
        return await self.container.services.sessions.authenticate(cookie)
