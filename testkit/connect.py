"""Vigil pointed at a running simulator (Atlassian's auth and API URLs, its OAuth client),
with an organization and its ADMIN key; the person on Atlassian's consent screen."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from simulator import RunningSimulator
from testkit.graphql_client import gql_http
from testkit.live import LiveServer, live_server

FRONTEND = "http://frontend.test"


@dataclass
class Env:
    """A Vigil server wired to the simulator, an org and its ADMIN key."""

    live: LiveServer
    sim: RunningSimulator
    org_id: str
    key: str

    async def gql(
        self, query: str, variables: dict[str, Any] | None = None, key: str | None = None
    ) -> Any:
        return await gql_http(self.live.graphql_url, key or self.key, query, variables)


def atlassian_settings(sim: RunningSimulator) -> dict[str, str]:
    """Vigil's settings for the simulator as Atlassian: its auth and API URLs, its OAuth
    client."""
    creds = sim.sim.credentials
    return {
        "atlassian_auth_url": sim.auth_url,
        "atlassian_api_url": sim.api_url,
        "oauth_client_id": creds.oauth_client_id,
        "oauth_client_secret": creds.oauth_client_secret,
    }


@asynccontextmanager
async def vigil_for(
    sim: RunningSimulator, kind: str = "mock", wire_url: str | None = None, **settings: Any
) -> AsyncIterator[Env]:
    """Start Vigil on a fresh store of ``kind`` against ``sim`` (reset first)."""
    sim.sim.reset()
    settings = {**atlassian_settings(sim), "frontend_url": FRONTEND, **settings}
    async with live_server(kind, wire_url, **settings) as live:
        org, created = await live.container.services.organizations.create_organization("Acme")
        yield Env(live, sim, org.id, created.secret)


async def consent(
    http: httpx.AsyncClient,
    authorization_url: str,
    *,
    decision: str = "approve",
    sites: tuple[str, ...] = ("acme",),
) -> httpx.Response:
    """Play the person on Atlassian's consent screen, then follow the redirect to Vigil."""
    answer = await http.post(authorization_url, data={"decision": decision, "site": list(sites)})
    assert answer.status_code == 302, answer.text
    return await http.get(answer.headers["location"])
