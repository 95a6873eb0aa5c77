"""API tokens (confluence-api.md §4): classic tokens on the site host only, scoped tokens only
through the gateway ``api.atlassian.com/ex/confluence/{cloudId}``."""

from __future__ import annotations

import httpx

from simulator import RunningSimulator

CURRENT = "/wiki/rest/api/user/current"


def _get(base: str, email: str, token: str) -> httpx.Response:
    return httpx.get(base + CURRENT, auth=(email, token), headers={"Accept": "application/json"})


def test_scoped_token_only_through_the_gateway(running: RunningSimulator) -> None:
    scoped = running.sim.credentials.scoped_admin_token
    assert _get(running.site_url(), scoped.email, scoped.token).status_code == 401
    through = _get(running.confluence_api_base(), scoped.email, scoped.token)
    assert through.status_code == 200, through.text
    assert through.json()["accountId"] == running.sim.site.operators["admin"]


def test_classic_token_only_on_the_site_host(running: RunningSimulator) -> None:
    classic = running.sim.credentials.admin_token
    assert not classic.scoped
    assert _get(running.site_url(), classic.email, classic.token).status_code == 200
    assert _get(running.confluence_api_base(), classic.email, classic.token).status_code == 401
