"""Connections that cannot hold the server: what uvicorn runs for ``vigil serve``.

uvicorn bounds a lot already (``api.serve.uvicorn_config`` sets it: idle keep-alive
connections, concurrent connections, WebSocket message size, pings). What it leaves open is
done here, in its two protocol classes:

- **Slow or endless request headers.** uvicorn waits for a request's headers as long as a
  client trickles them. ``BoundedHttpProtocol`` closes a connection whose request line and
  headers are not complete within ``headers_timeout`` seconds of their first byte (or of the
  connection, when nothing comes), or that sends more than ``MAX_HEADER_BYTES`` of them.
- **Clients that do not read.** A transport keeps what could not be sent yet in memory;
  closing it politely (``transport.close()``) waits for that buffer to drain, which a client
  that never reads never lets happen. Both classes drop such a connection
  (``transport.abort()``) instead when it ends: an idle keep-alive connection whose response
  is still unread, a WebSocket whose close handshake or ping does not come back in time.
- **What the application needs to see below it.** Each connection's scope carries the ASGI
  extension ``CONNECTION_EXTENSION``: ``buffered()`` (bytes written and not yet sent) and
  ``abort()``. ``api.fanout.Outbox`` counts ``buffered()`` in a socket's bound, and the
  GraphQL view aborts a response the client stopped reading (``send_response``).

The body of a request has its own deadline where it is read (``api.http_requests``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

log = logging.getLogger(__name__)

#: The scope extension through which the application sees its connection.
CONNECTION_EXTENSION = "vigil.connection"
#: The most a request line and its headers may take (a browser sends a few kilobytes).
MAX_HEADER_BYTES = 64 * 1024
#: Body pieces handed to the server at a time: it holds at most this plus its high-water
#: mark (64 KB) for a client that does not read.
PIECE_BYTES = 64 * 1024


def connection_of(scope: Scope) -> dict[str, Callable[[], Any]]:
    """``{"buffered": …, "abort": …}`` of the scope's connection (empty under other servers)."""
    extensions = scope.get("extensions") or {}
    found = extensions.get(CONNECTION_EXTENSION)
    return found if isinstance(found, dict) else {}


def http_protocol(headers_timeout: float) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with the header deadline and size bound."""

    class BoundedHttpProtocol(HttpToolsProtocol):
        """Headers within ``headers_timeout`` and ``MAX_HEADER_BYTES``; unread answers dropped."""

        header_timer: asyncio.TimerHandle | None = None
        header_bytes = 0
        reading_headers = False

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)  # type: ignore[arg-type]
            self.arm_header_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            self.disarm_header_timer()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self.reading_headers or self.header_timer is not None:
                self.header_bytes += len(data)
            super().data_received(data)
            if self.reading_headers and self.header_bytes > MAX_HEADER_BYTES:
                log.info(
                    "closing a connection whose request headers exceed %s bytes", MAX_HEADER_BYTES
                )
                self.disarm_header_timer()
                self.send_400_response("request headers too large")

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self.reading_headers = True
            if self.header_timer is None:
                self.arm_header_timer()

        def on_headers_complete(self) -> None:
            self.reading_headers = False
            self.disarm_header_timer()
            transport = self.transport
            self.scope["extensions"] = {
                **(self.scope.get("extensions") or {}),
                CONNECTION_EXTENSION: {
                    "buffered": transport.get_write_buffer_size,
                    "abort": transport.abort,
                },
            }
            super().on_headers_complete()

        def timeout_keep_alive_handler(self) -> None:
            """An idle connection: dropped at once when its last answer is still unsent."""
            if self.transport.get_write_buffer_size():
                self.transport.abort()
            else:
                super().timeout_keep_alive_handler()

        def arm_header_timer(self) -> None:
            self.header_bytes = 0
            self.header_timer = asyncio.get_running_loop().call_later(
                headers_timeout, self.headers_too_slow
            )

        def disarm_header_timer(self) -> None:
            if self.header_timer is not None:
                self.header_timer.cancel()
                self.header_timer = None

        def headers_too_slow(self) -> None:
            self.header_timer = None
            if not self.transport.is_closing():
                log.info(
                    "closing a connection whose request headers took over %g s", headers_timeout
                )
                self.transport.close()

    return BoundedHttpProtocol


def websocket_protocol(close_timeout: float) -> type[WebSocketsSansIOProtocol]:
    """uvicorn's WebSocket protocol (websockets, sans-I/O) that measures and drops its own
    connection: a close or a ping the client does not answer ends it within
    ``close_timeout`` seconds, its unsent frames freed."""

    class BoundedWebSocketProtocol(WebSocketsSansIOProtocol):
        """The sockets of ``api.sockets``: measured, and aborted rather than left draining."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.close_timeout = close_timeout

        def handle_connect(self, event: Any) -> None:
            super().handle_connect(event)
            scope = getattr(self, "scope", None)  # set only for an accepted upgrade
            if scope is not None:
                transport = self.transport
                scope["extensions"] = {
                    **(scope.get("extensions") or {}),
                    CONNECTION_EXTENSION: {
                        "buffered": transport.get_write_buffer_size,
                        "abort": transport.abort,
                    },
                }

        async def send(self, message: Any) -> None:
            await super().send(message)
            if message["type"] == "websocket.close" and self.close_timer is not None:
                # uvicorn closes politely when the client does not answer the close, which
                # waits for an unread buffer forever: drop the connection instead.
                self.close_timer.cancel()
                self.close_timer = self.loop.call_later(close_timeout, self.transport.abort)

        def keepalive_timeout(self) -> None:
            super().keepalive_timeout()
            if self.transport.get_write_buffer_size():
                self.transport.abort()

    return BoundedWebSocketProtocol


async def send_response(
    response: Response, scope: Scope, receive: Receive, send: Send, stall_timeout: float
) -> None:
    """Send ``response`` in pieces, each when the client has read enough of the previous
    ones; a client that reads nothing for ``stall_timeout`` seconds loses its connection.

    The server then holds at most a piece and its high-water mark for this client, besides
    the body (within ``max_response_bytes``), and no longer than ``stall_timeout``.
    A streaming response sends itself (it is written as it is produced).
    """
    if isinstance(response, StreamingResponse):
        await response(scope, receive, send)
        return
    body = memoryview(response.body)
    await send(
        {
            "type": "http.response.start",
            "status": response.status_code,
            "headers": response.raw_headers,
        }
    )
    offset = 0
    while True:
        piece = body[offset : offset + PIECE_BYTES]
        offset += len(piece)
        more = offset < len(body)
        try:
            async with asyncio.timeout(stall_timeout):
                await send({"type": "http.response.body", "body": bytes(piece), "more_body": more})
        except TimeoutError:
            log.warning(
                "dropping a connection whose client read nothing of its response for %g s "
                "(%s of %s bytes sent)",
                stall_timeout,
                offset - len(piece),
                len(body),
            )
            abort = connection_of(scope).get("abort")
            if abort is not None:
                abort()
            return
        if not more:
            break
    if response.background is not None:
        await response.background()
