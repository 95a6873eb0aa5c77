"""Local receivers for alert tests: a real HTTP server and a real SMTP server (aiosmtpd),
each on a free loopback port in a thread of its own, recording what arrives."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from testkit.mongo import free_port


@dataclass(frozen=True)
class Received:
    """One POST the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class HttpReceiver:
    """Answers POSTs with ``status`` — after answering ``fail_first`` of them with 500."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.fail_first = 0
        self.status = 200
        self.answer = b"ok"
        self._lock = threading.Lock()
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def posts(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.received if path is None or r.path == path]

    def _answer(self, received: Received) -> tuple[int, bytes]:
        with self._lock:
            self.received.append(received)
            if self.fail_first > 0:
                self.fail_first -= 1
                return 500, b"receiver down"
            return self.status, self.answer


@contextmanager
def http_receiver() -> Iterator[HttpReceiver]:
    """A running ``HttpReceiver``."""
    receiver = HttpReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            status, answer = receiver._answer(
                Received(self.path, {k: v for k, v in self.headers.items()}, body)
            )
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", receiver.port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def verify_signature(
    secret: str, received: Received, *, now: float, tolerance: float = 300
) -> bool:
    """What a receiver does, written from docs/alerts.md (not from Vigil's code): HMAC-SHA256
    with the signing secret over ``<Vigil-Timestamp>.<raw body>``, compared in constant time
    with the hex after ``v1=`` in ``Vigil-Signature``, and the timestamp not too old."""
    headers = {k.lower(): v for k, v in received.headers.items()}
    timestamp = headers["vigil-timestamp"]
    if abs(now - int(timestamp)) > tolerance:
        return False
    expected = hmac.new(
        secret.encode(), timestamp.encode() + b"." + received.body, hashlib.sha256
    ).hexdigest()
    given = dict(part.split("=", 1) for part in headers["vigil-signature"].split(","))
    return hmac.compare_digest(expected, given.get("v1", ""))


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def received(self) -> list[tuple[list[str], EmailMessage]]:
        with self._lock:
            return list(self.messages)


@dataclass
class SmtpServer:
    """A running local SMTP server and what it received."""

    port: int
    mailbox: _Mailbox

    def received(self) -> list[tuple[list[str], EmailMessage]]:
        return self.mailbox.received()


@contextmanager
def smtp_server() -> Iterator[SmtpServer]:
    """aiosmtpd on a free loopback port (no TLS, no authentication)."""
    mailbox = _Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer(port, mailbox)
    finally:
        controller.stop()
