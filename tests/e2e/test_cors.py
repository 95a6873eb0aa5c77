"""Browser origins in development: common dev servers work out of the box, and a refused
origin is logged once with the setting that allows it (issue 14)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest
import websockets

from api.settings import Settings
from testkit.live import LiveServer, live_server

DEV_SERVERS = [
    "http://localhost:3000",
    "http://127.0.0.1:3000",
    "http://localhost:5173",
    "http://127.0.0.1:5173",
]


def test_development_allows_common_dev_servers_and_production_does_not() -> None:
    dev = Settings(env="development", frontend_url="http://console.test")
    assert dev.cors_origin_list == ["http://console.test", *DEV_SERVERS]
    prod = Settings(env="production", frontend_url="http://console.test")
    assert prod.cors_origin_list == ["http://console.test"]
    explicit = Settings(env="development", cors_origins="https://a.test, https://b.test")
    assert explicit.cors_origin_list == ["https://a.test", "https://b.test"]


@pytest.fixture
async def dev_server() -> AsyncIterator[LiveServer]:
    async with live_server(env="development") as live:
        yield live


def preflight(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }


async def test_a_dev_server_origin_is_allowed_and_a_refusal_names_the_setting(
    dev_server: LiveServer, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="vigil.cors")
    for origin in DEV_SERVERS:
        ok = await http.options(dev_server.graphql_url, headers=preflight(origin))
        assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == origin

    refused = await http.options(dev_server.graphql_url, headers=preflight("http://evil.test"))
    assert refused.status_code == 400
    await http.options(dev_server.graphql_url, headers=preflight("http://evil.test"))
    lines = [r.getMessage() for r in caplog.records if "http://evil.test" in r.getMessage()]
    assert len(lines) == 1 and "VIGIL_CORS_ORIGINS" in lines[0]

    with pytest.raises(websockets.exceptions.InvalidStatus):
        async with websockets.connect(
            dev_server.ws_url,
            origin=websockets.Origin("http://other.test:8080"),
            subprotocols=[websockets.Subprotocol("graphql-transport-ws")],
        ):
            pass
    ws_lines = [r.getMessage() for r in caplog.records if "other.test" in r.getMessage()]
    # One line, ours: Strawberry's own points at a code parameter, not at the setting.
    assert len(ws_lines) == 1 and "WebSocket" in ws_lines[0]
    assert "VIGIL_CORS_ORIGINS" in ws_lines[0]
