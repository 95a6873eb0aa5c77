"""The GraphQL endpoint: authentication on HTTP and WebSocket, request ids, limits.

Every refusal at the transport (bad body, missing key, rate limit, body too large or too
slow, database down) is raised as an ``api.http_errors.ApiError`` and answered in the one
error shape, with the request id::

    {"errors": [{"message": "...", "extensions": {"code": "RATE_LIMITED", "retryAfter": 3,
                                                  "requestId": "..."}}]}

Strawberry's own refusals (a body without a query, ...) become the same, and so does an
operation refused because its key's cost budget is spent (429).

Queries may also come as ``GET /graphql?query=…&variables=…&operationName=…`` (the
GraphQL-over-HTTP spec; urql's default): same key, limits and errors as POST, answered
``Cache-Control: no-store``. A mutation or subscription over GET is refused with 405 and
``Allow: POST`` before anything runs, so a link or an image cannot change anything.

Answers are at most ``max_response_bytes`` (``api.responses``: a ``RESPONSE_TOO_LARGE``
error instead) and sent in pieces as the client reads them (``api.transport.send_response``);
on a WebSocket a message is also at most the socket's bound (``api.fanout``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from graphql import GraphQLError, OperationType, get_operation_ast, parse
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult

from api.budgets import KeyCost, client_address
from api.container import Container, credential_check
from api.http_errors import ApiError, RateLimited, request_id
from api.http_requests import SESSION_COOKIE, authenticate, bearer_token, read_body
from api.responses import encode_within, too_large_text
from api.sockets import (
    CLOSE_REVOKED,
    CLOSE_TOO_MANY,
    CLOSE_UNAVAILABLE,
    KEY_REFUSED,
    SocketLimits,
    VigilTransportWSHandler,
    VigilWebSocketAdapter,
    close_socket,
)
from api.transport import send_response
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
            allow_queries_via_get=True,
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
        elif scope["method"] == "GET":
            self._refuse_writes_over_get(Request(scope, receive))
        try:
            response = await self.run(Request(scope, receive))
        except StrawberryHTTPError as e:  # Strawberry's own refusal: the one error shape
            raise ApiError(e.status_code, e.reason) from None
        if scope["method"] == "GET":  # an answer for this key only: no cache may keep it
            response.headers["Cache-Control"] = "no-store"
            response.headers["Vary"] = "Authorization"
        stall = self.container.settings.send_timeout_seconds
        await send_response(response, scope, receive, send, stall)

    def _refuse_writes_over_get(self, request: Request) -> None:
        """405 for a mutation or subscription sent over GET (GraphQL-over-HTTP); a document
        that does not parse is left to Strawberry, which reports it."""
        query = request.query_params.get("query")
        if query is None:
            return
        try:
            document = parse(query, max_tokens=self.container.settings.max_tokens)
            operation = get_operation_ast(document, request.query_params.get("operationName"))
        except GraphQLError:
            return
        if operation is not None and operation.operation is not OperationType.QUERY:
            kind = operation.operation.value
            raise HTTPException(
                405,
                f"a {kind} cannot be sent over GET: send it with POST (GET runs queries only)",
                headers={"Allow": "POST"},
            )

    async def _replayed_body(self, request: Request) -> Receive:
        """Read the whole body (at most ``max_body_bytes``, within ``body_timeout_seconds``)
        and replay it to Strawberry."""
        settings = self.container.settings
        body = await read_body(
            request, settings.max_body_bytes, timeout=settings.body_timeout_seconds
        )
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

    def encode_json(self, data: object) -> str:
        """An HTTP answer's JSON, or the ``RESPONSE_TOO_LARGE`` error in its place."""
        limit = self.container.settings.max_response_bytes
        return encode_within(data, limit) or too_large_text(limit)

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
        if request.method == "GET" and "query" not in request.query_params:
            return context  # the GraphiQL page in development; nothing runs
        context.principal = await authenticate(self.container, request)
        context.cost_meter = self.cost_meter(context.principal)
        return context

    def cost_meter(self, principal: Principal) -> KeyCost:
        """What ``principal``'s operations spend their cost from."""
        return KeyCost(
            self.container.cost_limiter,
            principal.actor_id,
            self.container.metrics.rate_limited.inc,
        )

    async def execute_single(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        """One HTTP operation within the time budget (``operation_timeout_seconds``); one
        its key's cost budget cannot pay is a 429, as the per-key rate limit is."""
        budget = self.container.settings.operation_timeout_seconds
        try:
            async with asyncio.timeout(budget):
                result = await super().execute_single(*args, **kwargs)
        except TimeoutError:
            context = kwargs.get("context")
            rid = getattr(context, "request_id", "unknown")
            log.warning("operation exceeded %s s (request id %s)", budget, rid)
            error = GraphQLError(
                f"the operation exceeded its time budget of {budget:g} s",
                extensions={"code": "TIMEOUT", "requestId": rid},
            )
            return ExecutionResult(data=None, errors=[error])
        for error in result.errors or ():
            extensions = error.extensions or {}
            if extensions.get("code") == "RATE_LIMITED":
                raise RateLimited(int(extensions.get("retryAfter", 1)), error.message)
        return result

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Accept the connection only with a valid key (in ``connection_init``) or session
        cookie (from an allowed origin), within the credential's socket cap (and the address's
        budget of failed authentications, checked first)."""
        params: dict[str, Any] = context.connection_params or {}
        raw = params.get("authorization") or params.get("Authorization")
        socket: WebSocket = context.request
        cookie = None if raw else socket.cookies.get(SESSION_COOKIE)
        token = bearer_token(raw if isinstance(raw, str) else None) if cookie is None else cookie
        address = client_address(context.response.scope)
        limiter = self.container.address_limiter
        refused_for = limiter.admit(address, token)
        if refused_for:
            self.container.metrics.rate_limited.inc()
            reason = f"too many failed authentications from this address; retry in {refused_for} s"
            await close_socket(context.response, CLOSE_TOO_MANY, reason)
            raise ConnectionRejectionError()
        try:
            if cookie is not None:
                principal = await self._session_principal(socket, cookie)
            else:
                principal = await self.container.services.api_keys.authenticate(token)
        except Exception:
            limiter.give_back(address, token)
            log.exception("authentication of a WebSocket failed")
            reason = "the service cannot check credentials right now; retry shortly"
            await close_socket(context.response, CLOSE_UNAVAILABLE, reason)
            raise ConnectionRejectionError() from None
        if principal is None:  # 4401, not Strawberry's 4403: graphql-ws retries a 4403
            await close_socket(context.response, CLOSE_REVOKED, KEY_REFUSED)
            raise ConnectionRejectionError()  # the address's token stays taken
        limiter.succeeded(address, token, principal.actor_id)
        if not self.sockets.add(principal, context.response):
            limit = self.container.settings.max_websockets_per_key
            reason = f"at most {limit} open WebSockets per API key or session"
            await close_socket(context.response, CLOSE_TOO_MANY, reason)
            raise ConnectionRejectionError()
        context.principal = principal
        context.cost_meter = self.cost_meter(principal)
        return await super().on_ws_connect(context)

    async def _session_principal(self, socket: WebSocket, cookie: str) -> Principal | None:
        """The person of a session cookie, only from an origin Vigil serves or allows (a
        browser always sends one; a cross-site page's socket is refused even with the
        cookie)."""
        if socket.headers.get("origin") not in self.container.settings.browser_origins:
            log.warning("refused a cookie-authenticated WebSocket from another origin")
            return None
        return await self.container.services.sessions.authenticate(cookie)
