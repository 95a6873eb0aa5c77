"""A raw ``graphql-transport-ws`` client for the WebSocket security tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import websockets

from testkit.live import LiveServer

PROTOCOL = "graphql-transport-ws"


@asynccontextmanager
async def raw_ws(live: LiveServer, key: str | None) -> AsyncIterator[Any]:
    """A socket past ``connection_ack`` (or the refusal, for a bad key)."""
    async with websockets.connect(live.ws_url, subprotocols=[PROTOCOL]) as ws:  # type: ignore[list-item]
        payload = {"authorization": f"Bearer {key}"} if key else {}
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        yield ws


async def ack(ws: Any) -> None:
    """Wait for ``connection_ack``."""
    message = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert message["type"] == "connection_ack", message


async def closed_with(ws: Any, timeout: float = 10) -> tuple[int | None, str]:
    """Read until the server closes; its close code and reason."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    except websockets.ConnectionClosed as closed:
        rcvd = closed.rcvd
        return (rcvd.code, rcvd.reason) if rcvd else (None, "")


def subscribe(op_id: str, query: str) -> str:
    """A ``subscribe`` frame."""
    return json.dumps({"id": op_id, "type": "subscribe", "payload": {"query": query}})
