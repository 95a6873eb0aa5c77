"""Fixtures and helpers for the connect-flow tests: a simulator plus Vigil pointed at it
(``testkit.connect`` builds the environment)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from simulator import RunningSimulator, Simulator, start_simulator
from testkit.connect import FRONTEND, Env, vigil_for
from tests.conftest import wire_url_for


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSimulator]:
    """Two sites (acme, beta) so OAuth can grant one or several."""
    simulator = Simulator.generate(users=40, groups=5, pages=6, seed=5, site_names=("acme", "beta"))
    with start_simulator(simulator) as running:
        yield running


async def make_env(
    request: pytest.FixtureRequest, sim: RunningSimulator, **settings: Any
) -> AsyncIterator[Env]:
    """Start Vigil (on the requested store kind) against the simulator."""
    kind = getattr(request, "param", "mock")
    async with vigil_for(sim, kind, wire_url_for(request, kind), **settings) as env:
        yield env


async def worker_env(
    request: pytest.FixtureRequest, sim: RunningSimulator, **settings: Any
) -> AsyncIterator[Env]:
    """make_env with the in-process worker on, which runs triggered syncs and remediation; the
    hour-long scheduler tick keeps it from starting scheduled syncs by itself during a test."""
    settings = {"run_worker": True, "scheduler_tick_seconds": 3600, **settings}
    async for env in make_env(request, sim, **settings):
        yield env


def worker_env_fixture(site: str, *, params: Sequence[str] | None = None) -> object:
    """A module's ``env`` fixture: worker_env against the simulator fixture named ``site``, on
    each store kind of ``params`` (on mock without). Assign it: ``env = worker_env_fixture(...)``."""

    @pytest.fixture(name="env", params=params)
    async def env(request: pytest.FixtureRequest) -> AsyncIterator[Env]:
        async for e in worker_env(request, request.getfixturevalue(site)):
            yield e

    return env


def issued_secrets(sim: Simulator) -> set[str]:
    """Every secret the simulator issued or accepts for Vigil: the operators' API tokens, the
    OAuth and client-credentials client secrets, the Admin API key and every access and
    refresh token of its grants so far."""
    creds = sim.credentials
    secrets = {
        creds.admin_token.token,
        creds.member_token.token,
        creds.oauth_client_secret,
        creds.cc_client_secret,
        creds.admin_api_key,
    }
    for grant in sim.tokens.grants.values():
        secrets.update(grant.access_tokens)
        secrets.update(grant.refresh_tokens)
    secrets.discard("")
    return secrets


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
