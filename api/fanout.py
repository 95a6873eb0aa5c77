"""One-pass subscription fan-out and bounded per-socket send queues.

Without this, every subscriber of ``checkResultUpdated`` ran its own copy of the
subscription: one bus subscription, one GraphQL execution and one JSON serialisation per
subscriber and event (about 8 ms of CPU each, so one change took seconds to reach 1,000
subscribers). Now:

- **Shared streams.** Subscribers whose results cannot differ share one stream: the key is
  the organization, the role, the document text, the operation name and the variables
  (canonical JSON). The stream subscribes to the bus once, executes the selection once per
  event and serialises the ``next`` payload once; each subscriber's frame is its own
  ``{"id": …, "type": "next", "payload": `` prefix followed by that same payload text. Only
  the fields of ``SHARED_FIELDS`` are shared: their results depend on the organization and
  the role alone and they have no per-subscriber first message (``syncProgress`` sends the
  latest run on subscribing, as does any subscription asked with an ``initial`` argument;
  ``apiKeyChanged`` depends on the caller's key).
- **Per-subscriber authorization.** A payload is queued for a subscriber only while its
  socket is registered and its key is not known to be revoked (``SocketRegistry.allows``);
  a revoked key's sockets are still closed with 4401 by the registry.
- **Bounded send queues.** Every frame of a socket (acks, pongs, results, completes) goes
  through its ``Outbox``: one FIFO written by one task, so a slow client never delays the
  others. What counts is everything the client has not read yet that this process holds:
  the frames waiting here, the one being written, and what the server's transport has
  taken but not sent (``api.transport``: ``buffered()``). A socket with more than
  ``MAX_QUEUED_FRAMES`` frames waiting, or whose next frame would bring that total over
  ``MAX_QUEUED_BYTES``, is closed with ``CLOSE_SLOW_CONSUMER`` (4008, "the client reads too
  slowly") and its queue dropped; when even the close cannot be written within
  ``CLOSE_GRACE_SECONDS`` the connection is dropped (its transport aborted), so a stuck
  client costs at most that much memory, then nothing. A frame is never larger than
  ``MAX_QUEUED_BYTES``: a result over it is replaced by a ``RESPONSE_TOO_LARGE`` error
  (``api.responses``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from typing import Any

from graphql import DocumentNode, FieldNode, OperationDefinitionNode, OperationType
from starlette.websockets import WebSocket, WebSocketState
from strawberry.types import ExecutionResult

from api.responses import encode_within, too_large_text
from api.transport import connection_of
from resolvers.strawberry_adapter import PreExecutionError

log = logging.getLogger(__name__)

CLOSE_SLOW_CONSUMER = 4008
MAX_QUEUED_FRAMES = 256
MAX_QUEUED_BYTES = 4 * 1024 * 1024
CLOSE_GRACE_SECONDS = 5.0

# Subscription fields whose results depend only on (organization, role) and the event.
SHARED_FIELDS = frozenset(
    {"checkResultUpdated", "accessReviewChanged", "policiesChanged", "peopleChanged"}
)

# What a shared stream ends with: None (completed), the first result when it is not a
# regular one (a pre-execution error, an incremental frame), or the exception it raised.
Outcome = ExecutionResult | BaseException | object | None
StreamStart = Callable[[], Awaitable[AsyncIterator[Any]]]


def shared_field(document: DocumentNode, operation_name: str | None) -> str | None:
    """The root field of the subscription to run when it is one of ``SHARED_FIELDS``."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    if len(operations) != 1 or operations[0].operation is not OperationType.SUBSCRIPTION:
        return None
    selections = operations[0].selection_set.selections
    if len(selections) != 1 or not isinstance(selections[0], FieldNode):
        return None
    field = selections[0]
    if any(a.name.value == "initial" for a in field.arguments or ()):
        return None  # its first messages are the state when this subscriber joined
    name = field.name.value
    return name if name in SHARED_FIELDS else None


def share_key(
    organization_id: str,
    role: str,
    query: str,
    operation_name: str | None,
    variables: dict[str, Any] | None,
) -> Hashable:
    """Everything that can make two subscribers' results differ."""
    canonical = json.dumps(variables or {}, sort_keys=True, separators=(",", ":"))
    return (organization_id, role, query, operation_name, canonical)


def next_payload(result: ExecutionResult, limit: int = MAX_QUEUED_BYTES) -> str:
    """The JSON text of a ``next`` message's payload (as Strawberry builds it), or the
    ``RESPONSE_TOO_LARGE`` error in its place when it would be over ``limit`` bytes."""
    payload: dict[str, Any] = {"data": result.data}
    if result.errors:
        payload["errors"] = [error.formatted for error in result.errors]
    if result.extensions:
        payload["extensions"] = result.extensions
    return encode_within(payload, limit) or too_large_text(limit)


class Outbox:
    """The frames waiting for one socket, written in order by one short-lived task.

    A frame is ``head + payload (+ "}" when there is a payload)``: the payload text is shared
    by every subscriber of a stream, only the small head is per socket, and the frame's text
    is built just before it is written.
    """

    written = 0  # frames written by every outbox of the process (a counter for benchmarks)

    def __init__(
        self,
        ws: WebSocket,
        *,
        max_frames: int = MAX_QUEUED_FRAMES,
        max_bytes: int = MAX_QUEUED_BYTES,
        close_grace: float = CLOSE_GRACE_SECONDS,
    ) -> None:
        self._ws = ws
        self._max_frames = max_frames
        self._max_bytes = max_bytes
        self._close_grace = close_grace
        self._frames: deque[tuple[str, str, asyncio.Future[None] | None]] = deque()
        self._bytes = 0  # the frames waiting and the one being written
        self._connection = connection_of(ws.scope) if hasattr(ws, "scope") else {}
        self._writer: asyncio.Task[None] | None = None
        self._closer: asyncio.Task[None] | None = None
        self.overflowed = False

    def __len__(self) -> int:
        return len(self._frames)

    @property
    def held(self) -> int:
        """Bytes this process holds for the client: waiting, being written, in the transport."""
        buffered = self._connection.get("buffered")
        return self._bytes + (int(buffered()) if buffered is not None else 0)

    def put(self, head: str, payload: str = "") -> bool:
        """Queue a frame; False when it was dropped (socket gone or queue overflowing)."""
        return self._put(head, payload, None)

    async def send(self, text: str) -> None:
        """Queue a whole frame and wait until it is written (or dropped)."""
        waiter = asyncio.get_running_loop().create_future()
        if self._put(text, "", waiter):
            await waiter

    def _put(self, head: str, payload: str, waiter: asyncio.Future[None] | None) -> bool:
        if self.overflowed or self._ws.application_state == WebSocketState.DISCONNECTED:
            return False
        size = len(payload) + len(head)
        too_many = len(self._frames) >= self._max_frames
        if too_many or self.held + size > self._max_bytes:
            self._overflow(size)
            return False
        self._frames.append((head, payload, waiter))
        self._bytes += size
        if self._writer is None:
            self._writer = asyncio.create_task(self._write())
        return True

    async def _write(self) -> None:
        try:
            while self._frames:
                head, payload, waiter = self._frames.popleft()
                try:
                    await self._ws.send_text(f"{head}{payload}}}" if payload else head)
                    Outbox.written += 1
                finally:
                    # Written: now in the transport (``held`` counts it there) or gone.
                    self._bytes -= len(head) + len(payload)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(None)
        except Exception:  # the socket went away: nothing more to write
            self._drop()
        finally:
            self._writer = None

    def _overflow(self, size: int) -> None:
        self.overflowed = True
        queued, held = len(self._frames), self.held
        self._drop()
        if self._writer is not None:
            self._writer.cancel()
        log.warning(
            "closing a WebSocket whose client reads too slowly (%s frames waiting, %s bytes "
            "unread, a %s-byte frame more)",
            queued,
            held,
            size,
        )
        reason = (
            f"the client reads too slowly: more than {self._max_frames} messages or "
            f"{self._max_bytes} bytes unread"
        )
        self._closer = asyncio.create_task(self._close(reason))

    async def _close(self, reason: str) -> None:
        """Close with 4008; when the close cannot be written in time, drop the connection."""
        if self._ws.application_state == WebSocketState.DISCONNECTED:
            return
        try:
            async with asyncio.timeout(self._close_grace):
                await self._ws.close(code=CLOSE_SLOW_CONSUMER, reason=reason)
        except TimeoutError:
            abort = self._connection.get("abort")
            if abort is not None:
                abort()
        except Exception:  # closed meanwhile, or the transport is gone
            return

    def _drop(self) -> None:
        while self._frames:
            head, payload, waiter = self._frames.popleft()
            self._bytes -= len(head) + len(payload)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)


class Subscriber:
    """One operation of one socket in a shared stream."""

    def __init__(self, operation_id: str, outbox: Outbox, allowed: Callable[[], bool]) -> None:
        self.head = f'{{"id":{json.dumps(operation_id)},"type":"next","payload":'
        self.outbox = outbox
        self.allowed = allowed
        self.ended: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()

    def deliver(self, payload: str) -> bool:
        """Queue ``payload`` for this subscriber if it may still receive it."""
        return self.allowed() and self.outbox.put(self.head, payload)

    def end(self, outcome: Outcome) -> None:
        if not self.ended.done():
            self.ended.set_result(outcome)


class _Stream:
    """One execution of a subscription, shared by its subscribers."""

    def __init__(self, hub: FanOut, key: Hashable, start: StreamStart) -> None:
        self.key = key
        self.subscribers: set[Subscriber] = set()
        self._hub = hub
        self.task = asyncio.create_task(self._run(start))

    async def _run(self, start: StreamStart) -> None:
        outcome: Outcome = None
        try:
            source = await start()
            try:
                first = True
                async for result in source:
                    irregular = not isinstance(result, ExecutionResult)
                    if irregular or (first and isinstance(result, PreExecutionError)):
                        outcome = result  # each subscriber reports it as Strawberry does
                        return
                    first = False
                    self._hub.executions += 1
                    payload = next_payload(result)
                    for subscriber in list(self.subscribers):
                        subscriber.deliver(payload)
            finally:
                self._hub.forget(self)  # nobody joins a stream that is ending
                await source.aclose()  # type: ignore[attr-defined]
        except Exception as e:
            log.exception("a shared subscription stream failed")
            outcome = e
        finally:
            self._hub.forget(self)
            for subscriber in self.subscribers:
                subscriber.end(outcome)


class FanOut:
    """The shared subscription streams of one process, by ``share_key``."""

    def __init__(self) -> None:
        self._streams: dict[Hashable, _Stream] = {}
        self.executions = 0  # events executed (one per event and stream)

    async def serve(self, key: Hashable, subscriber: Subscriber, start: StreamStart) -> Outcome:
        """Join (or start) the stream of ``key`` until it ends or the subscriber leaves."""
        stream = self._streams.get(key)
        if stream is None:
            stream = self._streams[key] = _Stream(self, key, start)
        stream.subscribers.add(subscriber)
        try:
            return await subscriber.ended
        finally:
            stream.subscribers.discard(subscriber)
            if not stream.subscribers:
                self.forget(stream)
                stream.task.cancel()

    def forget(self, stream: _Stream) -> None:
        """No new subscriber joins ``stream`` any more."""
        if self._streams.get(stream.key) is stream:
            del self._streams[stream.key]
