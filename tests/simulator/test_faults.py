"""Fault injection as a client sees it, and the request counters."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime

import httpx
import pytest

from simulator import DROPPED, QUOTA_TENANT, RunningSimulator, SimClock
from simulator.faults import Faults
from simulator.routing import classify
from tests.simulator.support import basic_client

GROUPS = "/wiki/rest/api/group"
GROUPS_ROUTE = "GET /wiki/rest/api/group"


@pytest.fixture
def client(running: RunningSimulator) -> Iterator[httpx.Client]:
    with basic_client(running) as c:
        yield c


def _client_credentials(running: RunningSimulator) -> httpx.Response:
    creds = running.sim.credentials
    return httpx.post(
        f"{running.auth_url}/oauth/token",
        json={
            "grant_type": "client_credentials",
            "client_id": creds.cc_client_id,
            "client_secret": creds.cc_client_secret,
        },
    )


def test_429_carries_retry_after(running: RunningSimulator, client: httpx.Client) -> None:
    running.sim.faults.configure(rate_429=1.0, retry_after=3)
    response = client.get(GROUPS)
    assert response.status_code == 429 and response.headers["retry-after"] == "3"
    assert response.json()["statusCode"] == 429
    assert _client_credentials(running).status_code == 200  # OAuth endpoint not faulted


def test_503_and_plain_text_errors(running: RunningSimulator, client: httpx.Client) -> None:
    running.sim.faults.configure(rate_503=1.0, plain_text_errors=True)
    response = client.get("/wiki/api/v2/spaces")
    assert response.status_code == 503 and "retry-after" in response.headers
    assert response.headers["content-type"].startswith("text/plain")
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_quota_exhaustion_until_reset(running: RunningSimulator, client: httpx.Client) -> None:
    until = running.sim.faults.exhaust_quota(seconds=120)
    response = client.get(GROUPS)
    assert response.status_code == 429
    assert response.headers["ratelimit-reason"] == QUOTA_TENANT
    assert 110 <= int(response.headers["retry-after"]) <= 121
    reset = datetime.fromisoformat(response.headers["x-ratelimit-reset"].replace("Z", "+00:00"))
    assert abs((reset - until).total_seconds()) < 1
    assert response.headers["x-ratelimit-remaining"] == "0"
    running.sim.clock.advance(121)
    assert client.get(GROUPS).status_code == 200


def test_points_quota_headers_near_limit_and_exhaustion(
    running: RunningSimulator, client: httpx.Client
) -> None:
    running.sim.faults.configure(quota_limit=100)
    first = client.get("/wiki/rest/api/user/current")  # 1 + 2 points
    assert first.headers["x-ratelimit-limit"] == "100"
    assert first.headers["x-ratelimit-remaining"] == "97"
    assert "x-ratelimit-nearlimit" not in first.headers
    second = client.get(GROUPS, params={"limit": 40})  # 1 + 2 x 25 groups
    assert second.headers["x-ratelimit-remaining"] == "46"
    third = client.get(GROUPS, params={"limit": 40})
    assert third.status_code == 200 and third.headers["x-ratelimit-nearlimit"] == "true"
    blocked = client.get(GROUPS)
    assert blocked.status_code == 429 and blocked.headers["ratelimit-reason"] == QUOTA_TENANT
    running.sim.clock.advance(3600)
    assert client.get(GROUPS).status_code == 200


def test_dropped_connection_is_a_transport_error(
    running: RunningSimulator, client: httpx.Client
) -> None:
    running.sim.faults.configure(rate_drop=1.0)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        client.get(GROUPS)
    assert running.sim.counters.count(GROUPS_ROUTE, DROPPED) == 1
    running.sim.faults.clear()
    assert client.get(GROUPS).status_code == 200  # the client recovers on a new connection


def test_truncated_json_fails_to_parse(running: RunningSimulator, client: httpx.Client) -> None:
    running.sim.faults.configure(rate_truncate=1.0)
    response = client.get(GROUPS)
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_truncated_content_length_is_a_protocol_error(
    running: RunningSimulator, client: httpx.Client
) -> None:
    running.sim.faults.configure(rate_truncate=1.0, truncate_mode="length")
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        client.get(GROUPS)


def test_slow_body_and_latency(running: RunningSimulator, client: httpx.Client) -> None:
    running.sim.faults.configure(rate_slow=1.0, slow_chunks=4, slow_chunk_delay_ms=80)
    started = time.perf_counter()
    assert client.get(GROUPS).json()["size"] == 25
    assert time.perf_counter() - started >= 0.3
    running.sim.faults.configure(rate_slow=0.0, latency_ms=150, jitter_ms=20)
    started = time.perf_counter()
    assert client.get(GROUPS).status_code == 200
    assert time.perf_counter() - started >= 0.12
    assert running.sim.counters.faults("slow") == 1 and running.sim.counters.faults("latency") == 1


def test_faults_restricted_to_routes_and_families(
    running: RunningSimulator, client: httpx.Client
) -> None:
    running.sim.faults.configure(rate_429=1.0, routes={"GET /wiki/api/v2/spaces"})
    assert client.get(GROUPS).status_code == 200
    assert client.get("/wiki/api/v2/spaces").status_code == 429
    running.sim.faults.configure(rate_429=0.0, rate_503=1.0, routes=None, families={"oauth"})
    assert client.get(GROUPS).status_code == 200
    response = _client_credentials(running)
    assert response.status_code == 503 and "retry-after" in response.headers


def test_scripted_faults_and_override(running: RunningSimulator, client: httpx.Client) -> None:
    faults = running.sim.faults
    faults.script(
        "status",
        GROUPS_ROUTE,
        status=502,
        body="<html>Bad gateway</html>",
        content_type="text/html",
    )
    faults.script("429", GROUPS_ROUTE, times=2, retry_after=0)
    first = client.get(GROUPS)
    assert first.status_code == 502 and first.text == "<html>Bad gateway</html>"
    assert [client.get(GROUPS).status_code for _ in range(3)] == [429, 429, 200]
    with faults.override(rate_503=1.0):
        assert client.get(GROUPS).status_code == 503
    assert client.get(GROUPS).status_code == 200


def test_counters_per_route_and_status(running: RunningSimulator, client: httpx.Client) -> None:
    counters = running.sim.counters
    client.get(GROUPS)
    client.get(GROUPS)
    client.get("/wiki/rest/api/group/nope/membersByGroupId")
    members = "GET /wiki/rest/api/group/{groupId}/membersByGroupId"
    assert counters.count(GROUPS_ROUTE) == 2 and counters.count(GROUPS_ROUTE, 200) == 2
    assert counters.count(members, 404) == 1 and counters.count(status=404) == 1
    assert counters.by_route == {GROUPS_ROUTE: 2, members: 1}
    counters.reset()
    assert counters.count() == 0


def test_fault_rng_is_deterministic() -> None:
    route = classify("GET", "/site/acme/wiki/rest/api/group")

    def draws(seed: int) -> list[str | None]:
        faults = Faults(SimClock(), seed)
        faults.configure(rate_429=0.3, rate_503=0.2)
        return [faults.decide(route).action for _ in range(200)]

    assert draws(1) == draws(1) and draws(1) != draws(2)
    assert 40 < draws(1).count("429") < 80


def test_quota_429s_alternate_with_the_beta_header_names(
    running: RunningSimulator, client: httpx.Client
) -> None:
    """§7: quota headers have been seen under beta names; every second quota 429 uses them,
    and the hourly reset is at minute precision (yyyy-MM-ddTHH:mmZ)."""
    running.sim.faults.configure(quota_limit=1)
    assert client.get(GROUPS).status_code == 200
    first, second = client.get(GROUPS), client.get(GROUPS)
    assert first.status_code == second.status_code == 429
    assert first.headers["ratelimit-reason"] == QUOTA_TENANT and "retry-after" in first.headers
    assert "x-beta-ratelimit-reason" not in first.headers
    assert second.headers["x-beta-ratelimit-reason"] == QUOTA_TENANT
    assert "ratelimit-reason" not in second.headers and "retry-after" not in second.headers
    assert int(second.headers["beta-retry-after"]) >= 1
    reset = first.headers["x-ratelimit-reset"]
    assert len(reset) == len("2026-06-01T11:00Z") and reset.endswith(":00Z"), reset
    assert second.headers["x-beta-ratelimit-reset"] == reset
