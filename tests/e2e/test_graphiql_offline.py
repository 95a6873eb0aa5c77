"""GraphiQL works offline in development: its page loads only scripts Vigil serves itself,
from a package installed with Vigil (issue 14). Production serves neither."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from testkit.live import LiveServer, live_server

BROWSER = {"Accept": "text/html,application/xhtml+xml"}


@pytest.fixture
async def dev_server() -> AsyncIterator[LiveServer]:
    async with live_server(env="development") as live:
        yield live


async def test_the_graphiql_page_loads_only_local_assets(
    dev_server: LiveServer, http: httpx.AsyncClient
) -> None:
    page = await http.get(dev_server.graphql_url, headers=BROWSER)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "GraphiQL" in page.text and "://" not in page.text.split("<body>")[0]
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert len(assets) == 5 and all(a.startswith("/graphiql/static/") for a in assets)
    for asset in assets:
        response = await http.get(dev_server.url + asset)
        assert response.status_code == 200, asset
        kind = "text/css" if asset.endswith(".css") else "text/javascript"
        assert response.headers["content-type"].startswith(kind)
        assert len(response.content) > 5000
    assert (await http.get(dev_server.url + "/graphiql/static/../settings.py")).status_code == 404
    # Clients asking for JSON still reach GraphQL (a GET without a query runs nothing).
    api = await http.get(dev_server.graphql_url, headers={"Accept": "application/json"})
    assert "GraphiQL" not in api.text


async def test_production_serves_no_graphiql(live: LiveServer, http: httpx.AsyncClient) -> None:
    page = await http.get(live.graphql_url, headers=BROWSER)
    assert "GraphiQL" not in page.text
    assert (await http.get(live.url + "/graphiql/static/graphiql.min.js")).status_code == 404
