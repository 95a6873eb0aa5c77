"""docker-compose.scale.yml (several processes on one replica set, docs/operations.md) cannot
run here (no Docker engine): check its wiring and the proxy's configuration instead."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pymongo.uri_parser import parse_uri

from api.settings import Settings
from tests.test_compose import (
    FIXED_BY_COMMANDS,
    ROOT,
    SECRETS,
    _compose,
    container_env,
    settings_in,
)

SCALE = "docker-compose.scale.yml"
MEMBERS = ["mongo1", "mongo2", "mongo3"]


def _services() -> dict[str, Any]:
    services: dict[str, Any] = _compose(SCALE)["services"]
    return services


def _nginx() -> str:
    return (ROOT / "deploy" / "nginx.conf").read_text()


def _directives(name: str) -> list[str]:
    """The arguments of every ``name`` directive of the proxy's configuration."""
    text = re.sub(r"#[^\n]*", "", _nginx())
    return [m.strip() for m in re.findall(rf"(?:^|[;{{}}\s]){name}\s+([^;]*);", text)]


def test_every_service_restarts_and_has_a_healthcheck() -> None:
    services = _services()
    assert set(services) == {*MEMBERS, "api", "worker", "proxy"}
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} has no healthcheck"
        assert service.get("restart") in ("unless-stopped", "always"), f"{name} never restarts"


def test_three_members_one_replica_set_healthy_with_a_primary() -> None:
    services = _services()
    for name in MEMBERS:
        member = services[name]
        assert member["command"][:3] == ["mongod", "--replSet", "rs0"]
        assert [v.split(":")[1] for v in member["volumes"]] == ["/data/db"]
    volumes = [services[name]["volumes"][0].split(":")[0] for name in MEMBERS]
    assert len(set(volumes)) == 3 and set(volumes) <= set(_compose(SCALE)["volumes"])
    first = services["mongo1"]
    script = first["healthcheck"]["test"][-1]
    assert first["healthcheck"]["test"][:2] == ["CMD", "mongosh"]
    hosts = re.findall(r"host: '([\w-]+):27017'", script)
    assert sorted(hosts) == MEMBERS and "rs.initiate" in script and "_id: 'rs0'" in script
    assert "stateStr === 'PRIMARY'" in script and "quit(1)" in script
    # The initiating member waits for the others to answer (initiate needs all of them).
    for other in MEMBERS[1:]:
        assert first["depends_on"][other]["condition"] == "service_healthy"
        assert "ping" in services[other]["healthcheck"]["test"][-1]


def test_two_api_processes_and_two_workers_on_the_replica_set() -> None:
    services = _services()
    api, worker = services["api"], services["worker"]
    assert api["command"][:2] == ["vigil", "serve"] and "--no-worker" in api["command"]
    assert api["command"][api["command"].index("--port") + 1] == "8000"
    assert worker["command"] == ["vigil", "worker"]
    assert api["deploy"]["replicas"] == 2 and worker["deploy"]["replicas"] == 2
    assert "ports" not in api and "ports" not in worker  # reached through the proxy only
    assert "/readyz" in " ".join(api["healthcheck"]["test"])
    test = worker["healthcheck"]["test"]
    assert test[:4] == ["CMD", "python", "-m", "api.heartbeat"]
    assert settings_in("worker", SECRETS, SCALE).worker_heartbeat_file == test[4]
    for name in ("api", "worker"):
        service = services[name]
        assert service["depends_on"]["mongo1"]["condition"] == "service_healthy"
        resolved = settings_in(name, SECRETS, SCALE)
        url = resolved.mongodb_url_value()
        assert url is not None
        parsed = parse_uri(url)
        assert sorted(h for h, _ in parsed["nodelist"]) == MEMBERS
        assert parsed["options"]["replicaSet"] == "rs0"
        assert resolved.env == "production" and resolved.run_worker


TRUSTED = "VIGIL_TRUSTED_PROXIES"


def test_settings_pass_through_as_in_the_single_process_file() -> None:
    base = _compose()["services"]["api"]["environment"]
    for name in ("api", "worker"):
        service = _services()[name]
        env = service["environment"]
        assert set(env) == set(base), f"{SCALE} and docker-compose.yml list other settings"
        fields = {f"VIGIL_{n.upper()}" for n in Settings.model_fields} - FIXED_BY_COMMANDS
        assert fields <= set(service["environment"])
        assert {"path": ".env", "required": False} in service["env_file"]
        for key, value in env.items():
            if key not in ("VIGIL_MONGODB_URL", "VIGIL_WORKER_HEARTBEAT_FILE", TRUSTED):
                assert value == base[key], key
    with pytest.raises(ValueError, match="VIGIL_SECRET_KEY"):
        container_env("api", {"VIGIL_EVIDENCE_HMAC_KEY": SECRETS["VIGIL_EVIDENCE_HMAC_KEY"]}, SCALE)
    # Behind the proxy, each client is counted on its own address (X-Forwarded-For).
    assert "172.16.0.0/12" in settings_in("api", SECRETS, SCALE).trusted_proxies
    assert settings_in("api", {**SECRETS, TRUSTED: "10.1.2.3"}, SCALE).trusted_proxies == "10.1.2.3"
    shell = {**SECRETS, "VIGIL_RATE_LIMIT_PER_MINUTE": "120"}
    assert settings_in("api", shell, SCALE).rate_limit_per_minute == 120


def test_the_proxy_balances_every_api_process_with_websockets() -> None:
    proxy = _services()["proxy"]
    image, tag = proxy["image"].split(":")
    major, minor = (int(p) for p in tag.split("-")[0].split(".")[:2])
    assert image == "nginx" and (major, minor) >= (1, 27)  # `resolve` in upstreams: 1.27.3
    assert "./deploy/nginx.conf:/etc/nginx/conf.d/default.conf:ro" in proxy["volumes"]
    assert proxy["ports"] == ["8000:8080"] and _directives("listen") == ["8080"]
    assert proxy["depends_on"]["api"]["condition"] == "service_healthy"
    assert "/readyz" in " ".join(proxy["healthcheck"]["test"])
    assert settings_in("api", SECRETS, SCALE).public_url == "http://localhost:8000"

    # Every replica of `api`, found again as they come and go.
    [server] = _directives("server api:8000")
    assert "resolve" in server.split()
    assert _directives("resolver")[0].startswith("127.0.0.11")  # Docker's DNS
    assert _directives("zone") and _directives("proxy_pass") == ["http://vigil_api"]
    # The WebSocket upgrade of /graphql.
    assert _directives("proxy_http_version") == ["1.1"]
    assert "Upgrade $http_upgrade" in _directives("proxy_set_header")
    assert "Connection $connection_upgrade" in _directives("proxy_set_header")
    assert re.search(r"map \$http_upgrade \$connection_upgrade \{\s*default upgrade;", _nginx())

    def seconds(value: str) -> float:
        number, unit = re.fullmatch(r"(\d+)([sm]?)", value).groups()  # type: ignore[union-attr]
        return float(number) * (60 if unit == "m" else 1)

    # Longer than an HTTP operation may take, and than the gap between WebSocket pings
    # (uvicorn's default: 20 s), so idle subscriptions stay open.
    read = seconds(_directives("proxy_read_timeout")[0])
    assert read > Settings().operation_timeout_seconds and read >= 3 * 20
    assert seconds(_directives("proxy_send_timeout")[0]) >= read
    assert _directives("proxy_buffering") == ["off"]  # exports stream
    body = _directives("client_max_body_size")[0]
    assert int(body.rstrip("m")) * 1024 * 1024 > 10 * 1024 * 1024  # a 10 MB people CSV
