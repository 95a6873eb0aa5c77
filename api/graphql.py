"""The GraphQL endpoint: authentication on HTTP and WebSocket, request ids, limits.

Every refusal at the transport (bad body, missing key, rate limit, body too large,
database down) is a GraphQL-shaped JSON body with a code and the request id::

    {"errors": [{"message": "...", "extensions": {"code": "RATE_LIMITED", "retryAfter": 3,
                                                  "requestId": "..."}}]}
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import Any

from cross_web import HTTPException
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from api.container import Container
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

log = logging.getLogger(__name__)

_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    429: "RATE_LIMITED",
    503: "UNAVAILABLE",
}


class TransportError(HTTPException):
    """A refusal before GraphQL runs; ``retry_after`` (seconds) becomes ``Retry-After``."""

    def __init__(self, status_code: int, reason: str, *, retry_after: int | None = None) -> None:
        super().__init__(status_code, reason)
        self.retry_after = retry_after


class _BadJson(json.JSONDecodeError):
    """A body or frame that is not usable JSON, with the reason to show."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, "", 0)
        self.reason = reason


def bearer_token(value: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` value, else None."""
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def error_response(
    status: int, message: str, request_id: str, *, retry_after: int | None = None
) -> JSONResponse:
    """A GraphQL-shaped JSON error with the request id (body and ``X-Request-Id``)."""
    extensions: dict[str, Any] = {"code": _CODES.get(status, "ERROR"), "requestId": request_id}
    headers = {"X-Request-Id": request_id}
    if retry_after is not None:
        extensions["retryAfter"] = retry_after
        headers["Retry-After"] = str(retry_after)
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    body = {"errors": [{"message": message, "extensions": extensions}]}
    return JSONResponse(body, status_code=status, headers=headers)


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
            key_valid=container.services.api_keys.key_still_valid,
            registry=self.sockets,
            recheck_seconds=settings.key_recheck_seconds,
            operation_timeout=settings.operation_timeout_seconds,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """HTTP: request id, body size limit, JSON errors; WebSocket: Strawberry's handler."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        try:
            if scope["method"] == "POST":
                receive = await self._read_body(scope, receive)
            response = await self.run(Request(scope, receive))
        except TransportError as e:
            response = error_response(
                e.status_code, e.reason, request_id, retry_after=e.retry_after
            )
        except HTTPException as e:
            response = error_response(e.status_code, e.reason, request_id)
        await response(scope, receive, send)

    async def _read_body(self, scope: Scope, receive: Receive) -> Receive:
        """Read the whole body (at most ``max_body_bytes``) and replay it to Strawberry."""
        limit = self.container.settings.max_body_bytes
        too_large = TransportError(413, f"the request body is larger than {limit} bytes")
        declared = dict(scope.get("headers", ())).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            raise too_large
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

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
            raise TransportError(400, e.reason) from e
        except json.JSONDecodeError as e:
            raise TransportError(400, "Unable to parse request body as JSON") from e
        if not isinstance(value, dict):
            raise TransportError(400, "the request body must be a JSON object")
        return value

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        """Authenticate HTTP requests here; WebSockets authenticate in ``connection_init``."""
        request_id = request.scope.get("state", {}).get("request_id") or uuid.uuid4().hex
        context = Context(
            services=self.container.services,
            request_id=request_id,
            request=request,
            response=response,
        )
        if isinstance(request, WebSocket):
            context.transport = "websocket"
            return context
        if isinstance(response, Response):
            response.headers["X-Request-Id"] = request_id
        if request.method == "GET":
            return context  # GraphiQL page in development; queries over GET are refused.
        token = bearer_token(request.headers.get("authorization"))
        context.principal = await self._authenticate(token, request_id)
        if context.principal is None:
            raise TransportError(401, "missing, invalid or revoked API key")
        wait = await self.container.rate_limiter.take(context.principal.api_key_id)
        if wait:
            self.container.metrics.rate_limited.inc()
            raise TransportError(
                429, "rate limit exceeded for this API key; retry shortly", retry_after=wait
            )
        return context

    async def _authenticate(self, token: str | None, request_id: str) -> Any:
        try:
            return await self.container.services.api_keys.authenticate(token)
        except Exception:
            log.exception(
                "authentication failed (request id %s)",
                request_id,
                extra={"request_id": request_id},
            )
            raise TransportError(
                503, "the service cannot check API keys right now; retry shortly", retry_after=5
            ) from None

    async def execute_single(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        """One HTTP operation within the time budget (``operation_timeout_seconds``)."""
        budget = self.container.settings.operation_timeout_seconds
        try:
            async with asyncio.timeout(budget):
                return await super().execute_single(*args, **kwargs)
        except TimeoutError:
            context = kwargs.get("context")
            request_id = getattr(context, "request_id", "unknown")
            log.warning("operation exceeded %s s (request id %s)", budget, request_id)
            error = GraphQLError(
                f"the operation exceeded its time budget of {budget:g} s",
                extensions={"code": "TIMEOUT", "requestId": request_id},
            )
            return ExecutionResult(data=None, errors=[error])

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Accept the connection only with a valid key, within the key's socket cap."""
        params: dict[str, Any] = context.connection_params or {}
        raw = params.get("authorization") or params.get("Authorization")
        token = bearer_token(raw if isinstance(raw, str) else None)
        try:
            principal = await self.container.services.api_keys.authenticate(token)
        except Exception:
            log.exception("authentication of a WebSocket failed")
            reason = "the service cannot check API keys right now; retry shortly"
            await close_socket(context.response, CLOSE_UNAVAILABLE, reason)
            raise ConnectionRejectionError() from None
        if principal is None:
            raise ConnectionRejectionError()
        if not self.sockets.add(principal, context.response):
            limit = self.container.settings.max_websockets_per_key
            reason = f"at most {limit} open WebSockets per API key"
            await close_socket(context.response, CLOSE_TOO_MANY, reason)
            raise ConnectionRejectionError()
        context.principal = principal
        accepted: UnsetType = UNSET
        return accepted
