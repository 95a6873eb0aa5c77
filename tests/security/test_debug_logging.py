"""At DEBUG, uvicorn's WebSocket frame logging would print API keys: it is dropped."""

from __future__ import annotations

import logging

import pytest

from api.logging import configure_logging
from testkit.live import live_server
from tests.security.support import ack, raw_ws, subscribe


async def test_websocket_frames_are_not_logged_at_debug(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("DEBUG", json_lines=False)
        async with live_server() as live:
            _, created = await live.container.services.organizations.create_organization("Acme")
            async with raw_ws(live, created.secret) as ws:
                await ack(ws)
                await ws.send(subscribe("1", "{ me { role } }"))
                await ws.recv()
    finally:
        root.handlers, root.level = saved[0], saved[1]
    err = capsys.readouterr().err
    assert "DEBUG" in err, "the server logged nothing at DEBUG: the test proves nothing"
    secret = created.secret
    for part in (secret, secret[-12:], secret[4:16]):
        assert part not in err
    assert "TEXT" not in err  # no frame dumps at all
