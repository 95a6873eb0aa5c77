"""docker-compose.yml cannot run here (no Docker engine): check its wiring instead."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from api.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def test_services_and_healthchecks() -> None:
    services = _compose()["services"]
    assert set(services) == {"mongodb", "api", "worker"}
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} has no healthcheck"
    assert "--replSet" in services["mongodb"]["command"]
    assert "rs.initiate" in " ".join(services["mongodb"]["healthcheck"]["test"])


def test_api_and_worker_run_vigil_against_the_replica_set() -> None:
    services = _compose()["services"]
    assert services["api"]["command"][:2] == ["vigil", "serve"]
    assert "--no-worker" in services["api"]["command"]
    assert services["worker"]["command"] == ["vigil", "worker"]
    for name in ("api", "worker"):
        service = services[name]
        assert service["depends_on"]["mongodb"]["condition"] == "service_healthy"
        env = service["environment"]
        assert "replicaSet=rs0" in env["VIGIL_MONGODB_URL"]
        assert env["VIGIL_ENV"] == "production"
        assert env["VIGIL_SECRET_KEY"].startswith("${VIGIL_SECRET_KEY:?")
        fields = {f"VIGIL_{name.upper()}" for name in Settings.model_fields}
        assert set(env) <= fields, f"unknown settings in {name}: {set(env) - fields}"
    assert "/readyz" in " ".join(services["api"]["healthcheck"]["test"])


def test_dockerfile_installs_the_package_and_serves() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install" in dockerfile and '"vigil", "serve"' in dockerfile
