"""WebSocket sessions that keep checking their credential, and the cap on sockets per credential.

A ``graphql-transport-ws`` session authenticates once, in ``connection_init`` (an API key in
its payload, or the browser's session cookie from an allowed origin); from then on:

- ``SocketRegistry`` knows every open socket by credential (the API key, or the person's
  session). For each credential with open sockets it listens to the organization's
  ``api_keys`` or ``sessions`` topic on the event bus (which reaches every process when the
  store is shared) and closes all of its sockets with 4401 when the key is revoked or the
  session ends (sign-out, removal from the organization); it also re-reads the credential every
  ``recheck_seconds`` in case an event was missed (or it was revoked straight in the
  database).
- ``VigilTransportWSHandler`` re-validates the key (cached for ``recheck_seconds``) and takes
  a token from the same per-key rate limiter as HTTP before each operation, and closes the
  socket with 4400 and a reason on a frame that is not a well-formed protocol message.
- Subscriptions of ``api.fanout.SHARED_FIELDS`` run once per (organization, role, document,
  variables) for all sockets of the process (``api.fanout.FanOut``), and every frame of a
  socket goes through its bounded ``api.fanout.Outbox`` (closed with 4008 when it overflows).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from graphql import GraphQLError, OperationType, get_operation_ast, parse
from starlette.websockets import WebSocket, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter

from api.fanout import MAX_QUEUED_BYTES, FanOut, Outbox, Subscriber, share_key, shared_field
from api.ratelimit import RateLimiter
from api.responses import encode_within, too_large
from resolvers.context import Context
from resolvers.strawberry_adapter import (
    ErrorMessage,
    Message,
    Operation,
    OperationStreamClosed,
    PreExecutionError,
    TransportWSHandler,
)
from services.api_keys import API_KEYS_CHANNEL
from services.events import EventBus, topic_for
from services.models import Principal
from services.users.service import SESSIONS_CHANNEL

log = logging.getLogger(__name__)

# Close codes, chosen for how graphql-ws (the reference client) treats them: it never
# retries 4401, 4400 and 4429 whatever its ``shouldRetry`` says, and retries 1013 and 4008.
CLOSE_REVOKED = 4401  # the key is missing, unknown or revoked: retrying cannot help
CLOSE_BAD_MESSAGE = 4400
CLOSE_TOO_MANY = 4429
CLOSE_UNAVAILABLE = 1013  # RFC 6455 registry "Try Again Later": keys cannot be checked now
KEY_REFUSED = "missing, invalid or revoked API key (connection_init authorization: Bearer <key>)"

KeyCheck = Callable[[Principal], Awaitable[bool]]


async def close_socket(ws: WebSocket, code: int, reason: str) -> None:
    """Close ``ws`` unless it is already closed (several parties may try at once)."""
    if ws.application_state == WebSocketState.DISCONNECTED:
        return
    with contextlib.suppress(RuntimeError):  # closed meanwhile by another task
        await ws.close(code=code, reason=reason)


def _revocation(principal: Principal) -> tuple[str, str, str]:
    """The bus channel announcing the end of the caller's credential, the event field naming
    it, and the close reason."""
    if principal.session_id is not None:
        return SESSIONS_CHANNEL, "session_id", "session ended"
    return API_KEYS_CHANNEL, "key_id", "API key revoked"


class SocketRegistry:
    """Open sockets by credential: caps them and closes them when it is revoked."""

    def __init__(
        self, bus: EventBus, key_valid: KeyCheck, *, max_per_key: int, recheck_seconds: float
    ) -> None:
        self._bus = bus
        self._key_valid = key_valid
        self._max = max_per_key
        self._recheck = recheck_seconds
        self._sockets: dict[str, set[WebSocket]] = {}
        self._watchers: dict[str, asyncio.Task[None]] = {}
        self._revoked: set[str] = set()  # keys whose sockets are being closed

    def count(self, key_id: str) -> int:
        """How many sockets the key has open."""
        return len(self._sockets.get(key_id, ()))

    def allows(self, key_id: str, ws: WebSocket) -> bool:
        """Whether ``ws`` may still receive results: open, registered, its key not revoked."""
        return (
            key_id not in self._revoked
            and ws in self._sockets.get(key_id, ())
            and ws.application_state != WebSocketState.DISCONNECTED
        )

    def add(self, principal: Principal, ws: WebSocket) -> bool:
        """Register ``ws`` for the caller's key; False when the key is at its cap."""
        sockets = self._sockets.setdefault(principal.credential_id, set())
        if len(sockets) >= self._max:
            return False
        sockets.add(ws)
        if principal.credential_id not in self._watchers:
            task = asyncio.create_task(self._watch(principal))
            self._watchers[principal.credential_id] = task
        return True

    def discard(self, key_id: str, ws: WebSocket) -> None:
        """Forget a closed socket; the key's watcher stops with its last socket."""
        sockets = self._sockets.get(key_id)
        if sockets is None:
            return
        sockets.discard(ws)
        if not sockets:
            del self._sockets[key_id]
            self._revoked.discard(key_id)
            watcher = self._watchers.pop(key_id, None)
            if watcher is not None and watcher is not asyncio.current_task():
                watcher.cancel()

    async def close_key(
        self, key_id: str, reason: str = "API key revoked", code: int = CLOSE_REVOKED
    ) -> None:
        """Close every socket of ``key_id`` (with 4401 unless told otherwise)."""
        for ws in list(self._sockets.get(key_id, ())):
            await close_socket(ws, code, reason)

    async def stop(self) -> None:
        """Cancel the watchers (process shutdown)."""
        watchers = list(self._watchers.values())
        self._watchers.clear()
        for task in watchers:
            task.cancel()
        for task in watchers:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _watch(self, principal: Principal) -> None:
        # The event subscription registers before the first poll reads the key, so a
        # revocation is either published after it (seen here) or stored before (seen there).
        # A task group: when one side ends the watch, the other is cancelled with it.
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._listen(principal))
                group.create_task(self._poll(principal))
        except* _Revoked:
            self._revoked.add(principal.credential_id)
            await self.close_key(principal.credential_id, _revocation(principal)[2])
        except* Exception:
            log.exception("watching credential %s for revocation failed", principal.credential_id)
            self._revoked.add(principal.credential_id)
            reason = "cannot verify the credential; reconnect shortly"
            await self.close_key(principal.credential_id, reason, CLOSE_UNAVAILABLE)

    async def _listen(self, principal: Principal) -> None:
        channel, name, _ = _revocation(principal)
        async for event in self._bus.subscribe(topic_for(principal.organization_id, channel)):
            ended = event.get("change") in ("REVOKED", "ENDED")
            if ended and event.get(name) == principal.credential_id:
                raise _Revoked

    async def _poll(self, principal: Principal) -> None:
        await asyncio.sleep(0)  # let the listener register first
        while True:
            try:
                valid = await self._key_valid(principal)
            except Exception:  # a database blip: keep the sockets, look again later
                log.warning("could not re-check %s", principal.credential_id, exc_info=True)
                valid = True
            if not valid:
                raise _Revoked
            await asyncio.sleep(self._recheck)


class _Revoked(Exception):
    """The watched key is no longer valid."""


class VigilWebSocketAdapter(ASGIWebSocketAdapter):
    """Strawberry's adapter with an idempotent close, no sends after close, and every frame
    through the socket's bounded ``Outbox`` (in order with the shared subscription frames)."""

    def __init__(self, view: Any, request: WebSocket, response: WebSocket) -> None:
        super().__init__(view, request, response)
        self.outbox = Outbox(response)
        self.message_limit = min(view.container.settings.max_response_bytes, MAX_QUEUED_BYTES)

    async def send_json(self, message: Mapping[str, object]) -> None:
        """Send unless the socket was closed (e.g. by revocation) meanwhile; a result over
        the socket's message limit is replaced by a ``RESPONSE_TOO_LARGE`` error."""
        if self.ws.application_state == WebSocketState.DISCONNECTED:
            return
        text = encode_within(message, self.message_limit)
        if text is None:
            error = too_large(self.message_limit).formatted
            text = json.dumps(
                {
                    "id": message.get("id"),
                    "type": "next",
                    "payload": {"data": None, "errors": [error]},
                }
                if message.get("type") == "next"
                else {"id": message.get("id"), "type": "error", "payload": [error]}
            )
        await self.outbox.send(text)

    async def close(self, code: int, reason: str) -> None:
        """Close once; later attempts are ignored."""
        await close_socket(self.ws, code, reason)


@dataclass(frozen=True)
class SocketLimits:
    """What every WebSocket operation goes through (the view's ``socket_limits``)."""

    limiter: RateLimiter
    key_valid: KeyCheck
    registry: SocketRegistry
    recheck_seconds: float
    operation_timeout: float
    fanout: FanOut = field(default_factory=FanOut)


class VigilTransportWSHandler(TransportWSHandler[Context, None]):
    """``graphql-transport-ws`` with message validation, key re-checks and the rate limit."""

    _checked_at: float = 0.0

    @property
    def limits(self) -> SocketLimits:
        """The view's limits (``VigilGraphQL.socket_limits``)."""
        limits: SocketLimits = self.view.socket_limits  # type: ignore[attr-defined]
        return limits

    async def handle_message(self, message: Message) -> None:
        """Refuse malformed frames; re-check the key and the rate limit before operations."""
        problem = _malformed(message)
        if problem is not None:
            await self.handle_invalid_message(problem)
            return
        principal = self.context.principal
        if message["type"] == "subscribe" and principal is not None:
            if not await self._still_valid(principal):
                await self.websocket.close(CLOSE_REVOKED, _revocation(principal)[2])
                return
            wait = await self.limits.limiter.take(principal.actor_id)
            if wait:
                await self.send_message(_rate_limited(message["id"], wait))
                return
        await super().handle_message(message)

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        """Queries and mutations get the HTTP time budget; subscriptions run until done."""
        kind = _kind(operation.query, operation.operation_name)
        if kind == "shared subscription":
            await self._run_shared(operation)
            return
        if kind == "subscription":
            await super().run_operation(operation)
            return
        budget = self.limits.operation_timeout
        try:
            async with asyncio.timeout(budget):
                await super().run_operation(operation)
        except TimeoutError:
            error = GraphQLError(
                f"the operation exceeded its time budget of {budget:g} s",
                extensions={"code": "TIMEOUT"},
            )
            await operation.send_operation_message(
                {"id": operation.id, "type": "error", "payload": [error.formatted]}
            )

    async def _run_shared(self, operation: Operation[Context, None]) -> None:
        """Join the process's one stream of this subscription (``api.fanout``)."""
        principal = self.context.principal
        assert principal is not None  # handle_subscribe refuses unacknowledged sockets
        key = share_key(
            principal.organization_id,
            principal.role.value,
            operation.query,
            operation.operation_name,
            operation.variables,
        )
        registry, ws = self.limits.registry, self.context.response
        adapter: VigilWebSocketAdapter = self.websocket  # type: ignore[assignment]
        subscriber = Subscriber(
            operation.id, adapter.outbox, lambda: registry.allows(principal.credential_id, ws)
        )
        # The stream's own context: the same organization and role, no socket of its own.
        context = replace(
            self.context,
            request_id=f"subscription-{uuid.uuid4().hex}",
            request=None,
            response=None,
            connection_params={},
            memo={},
        )

        async def start() -> AsyncIterator[Any]:
            source = await self.schema.stream(
                operation.query,
                variable_values=operation.variables,
                context_value=context,
                root_value=self.root_value,
                operation_name=operation.operation_name,
            )
            return _fresh_memo(source, context)

        outcome = await self.limits.fanout.serve(key, subscriber, start)
        try:
            if isinstance(outcome, PreExecutionError):
                await self.send_pre_execution_error(operation, outcome)
            elif outcome is not None and not isinstance(outcome, BaseException):
                await self.reject_incremental_delivery(operation)
            # Completed, failed (logged by the stream) or refused: the operation is over.
            await operation.send_operation_message({"id": operation.id, "type": "complete"})
        except OperationStreamClosed:
            return

    async def handle_connection_init(self, message: Any) -> None:
        """Authenticate (``VigilGraphQL.on_ws_connect``); an accepted socket is now checked."""
        await super().handle_connection_init(message)
        if self.connection_acknowledged:
            self._checked_at = time.monotonic()

    async def shutdown(self) -> None:
        """Stop the operations and forget the socket."""
        try:
            await super().shutdown()
        finally:
            principal = self.context.principal
            if principal is not None:
                self.limits.registry.discard(principal.credential_id, self.context.response)

    async def _still_valid(self, principal: Principal) -> bool:
        now = time.monotonic()
        if now - self._checked_at < self.limits.recheck_seconds:
            return True
        try:
            valid = await self.limits.key_valid(principal)
        except Exception:  # the database cannot answer: the operation will fail on its own
            log.warning("could not re-check %s", principal.credential_id, exc_info=True)
            return True
        self._checked_at = now
        return valid


def _kind(query: str, operation_name: str | None) -> str:
    """What the operation is: a "shared subscription" (``api.fanout.SHARED_FIELDS``), another
    "subscription", or "other" (unparsable included: Strawberry reports it). The document is
    not kept: a subscription runs for hours, its socket need not hold a syntax tree as long."""
    try:
        document = parse(query, max_tokens=20_000)
        operation = get_operation_ast(document, operation_name)
    except Exception:
        return "other"
    if operation is None or operation.operation is not OperationType.SUBSCRIPTION:
        return "other"
    shared = shared_field(document, operation_name) is not None
    return "shared subscription" if shared else "subscription"


async def _fresh_memo(source: AsyncIterator[Any], context: Context) -> AsyncIterator[Any]:
    """``source``, with the context's per-request lookups forgotten after every event."""
    try:
        async for result in source:
            yield result
            context.memo.clear()
    finally:
        await source.aclose()  # type: ignore[attr-defined]


def _malformed(message: object) -> str | None:
    """Why a frame is not a protocol message this server accepts, or None."""
    if not isinstance(message, dict):
        return "WebSocket message must be a JSON object"
    kind = message.get("type")
    if not isinstance(kind, str):
        return "WebSocket message must have a string type"
    if kind in ("subscribe", "complete") and not isinstance(message.get("id"), str):
        return f"{kind} message must have a string id"
    if kind == "subscribe":
        payload = message.get("payload")
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            return "subscribe payload must be an object with a string query"
        if not isinstance(payload.get("variables"), dict | None):
            return "subscribe variables must be an object"
        if not isinstance(payload.get("operationName"), str | None):
            return "subscribe operationName must be a string"
    return None


def _rate_limited(operation_id: str, retry_after: int) -> ErrorMessage:
    error = GraphQLError(
        f"rate limit exceeded for this API key; retry in {retry_after} s",
        extensions={"code": "RATE_LIMITED", "retryAfter": retry_after},
    )
    return {"id": operation_id, "type": "error", "payload": [error.formatted]}
