"""Fixtures and helpers for the connect-flow tests: a simulator plus Vigil pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from simulator import RunningSimulator, Simulator, start_simulator
from tests.conftest import LiveServer, open_store, start_live_server
from tests.graphql_client import gql_http

FRONTEND = "http://frontend.test"


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSimulator]:
    """Two sites (acme, beta) so OAuth can grant one or several."""
    simulator = Simulator.generate(users=40, groups=5, pages=6, seed=5, site_names=("acme", "beta"))
    with start_simulator(simulator) as running:
        yield running


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


async def make_env(
    request: pytest.FixtureRequest, sim: RunningSimulator, **settings: Any
) -> AsyncIterator[Env]:
    """Start Vigil (on the requested store kind) against the simulator."""
    sim.sim.reset()
    kind = getattr(request, "param", "mock")
    url = request.getfixturevalue("wire_url") if kind == "wire" else None
    store = open_store(kind, url)
    creds = sim.sim.credentials
    settings = {
        "atlassian_auth_url": sim.auth_url,
        "atlassian_api_url": sim.api_url,
        "oauth_client_id": creds.oauth_client_id,
        "oauth_client_secret": creds.oauth_client_secret,
        "frontend_url": FRONTEND,
        **settings,
    }
    live, server, task = await start_live_server(store, **settings)
    org, created = await live.container.services.organizations.create_organization("Acme")
    try:
        yield Env(live, sim, org.id, created.secret)
    finally:
        await store.drop()
        server.should_exit = True
        await task


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


def redirect_params(response: httpx.Response) -> dict[str, str]:
    """The query of Vigil's redirect to the frontend."""
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(FRONTEND)
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


INTEGRATION_FIELDS = """
  id purpose authMethod status statusMessage connectedAt connectedAs hasAdminKey adminOrgId
  grantedScopes site { cloudId url name } availableSites { cloudId url name }
"""
