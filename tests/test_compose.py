"""docker-compose.yml cannot run here (no Docker engine): check its wiring instead (the
scaled file, docker-compose.scale.yml, has its own checks in tests/test_compose_scale.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from api import heartbeat
from api.heartbeat import Heartbeat
from api.settings import Settings
from services.crypto import generate_key

ROOT = Path(__file__).resolve().parents[1]


def _compose(name: str = "docker-compose.yml") -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / name).read_text())
    return data


FIXED_BY_COMMANDS = {"VIGIL_HOST", "VIGIL_PORT"}  # the API listens on 8000 in its container
INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:-|:\?)(?P<arg>[^}]*))?\}")


def _interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?error}`` (what we use)."""

    def one(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"] or ""
        current = env.get(name, "")
        if current:
            return current
        if op == ":?":
            raise ValueError(f"required variable {name} is missing a value: {arg}")
        return arg if op == ":-" else ""

    return INTERPOLATION.sub(one, value)


def container_env(
    service: str, env: dict[str, str], name: str = "docker-compose.yml"
) -> dict[str, str]:
    """What `docker compose config` resolves for a service's environment, given the shell's
    ``env``: values interpolated; a key without a value passes through, or stays unset."""
    resolved: dict[str, str] = {}
    for key, value in _compose(name)["services"][service]["environment"].items():
        if value is None:
            if key in env:
                resolved[key] = env[key]
        else:
            resolved[key] = _interpolate(str(value), env)
    return resolved


def settings_in(service: str, env: dict[str, str], name: str = "docker-compose.yml") -> Settings:
    values = container_env(service, env, name)
    fields = {k.removeprefix("VIGIL_").lower(): v for k, v in values.items()}
    return Settings(**fields)  # type: ignore[arg-type]


SECRETS = {"VIGIL_SECRET_KEY": generate_key(), "VIGIL_EVIDENCE_HMAC_KEY": generate_key()}


def test_services_restart_and_have_healthchecks() -> None:
    services = _compose()["services"]
    assert set(services) == {"mongodb", "api", "worker"}
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} has no healthcheck"
        assert service.get("restart") in ("unless-stopped", "always"), f"{name} never restarts"


def test_mongodb_is_healthy_only_with_a_primary() -> None:
    mongodb = _compose()["services"]["mongodb"]
    assert "--replSet" in mongodb["command"]
    script = mongodb["healthcheck"]["test"][-1]
    assert mongodb["healthcheck"]["test"][:2] == ["CMD", "mongosh"]
    assert "rs.initiate" in script
    assert "stateStr === 'PRIMARY'" in script and "quit(1)" in script
    assert "rs.status().ok" not in script  # 1 even while no member is primary


def test_worker_health_is_its_heartbeat(tmp_path: Path) -> None:
    worker = _compose()["services"]["worker"]
    test = worker["healthcheck"]["test"]
    assert test[:4] == ["CMD", "python", "-m", "api.heartbeat"]
    path, max_age = test[4], float(test[5])
    assert worker["environment"]["VIGIL_WORKER_HEARTBEAT_FILE"] == path
    assert settings_in("worker", SECRETS).worker_heartbeat_file == path
    # Fresh enough for several default ticks, and the check really reads the file.
    assert max_age >= 5 * Settings().scheduler_tick_seconds
    beat = tmp_path / "hb"
    assert heartbeat.main([str(beat), test[5]]) == 1  # no worker has written it
    Heartbeat(beat).beat(1)
    assert heartbeat.main([str(beat), test[5]]) == 0


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
        assert env["VIGIL_SECRET_KEY"].startswith("${VIGIL_SECRET_KEY:?")
        assert env["VIGIL_EVIDENCE_HMAC_KEY"].startswith("${VIGIL_EVIDENCE_HMAC_KEY:?")
        fields = {f"VIGIL_{name.upper()}" for name in Settings.model_fields}
        assert set(env) <= fields, f"unknown settings in {name}: {set(env) - fields}"
        resolved = settings_in(name, SECRETS)
        assert resolved.env == "production" and "replicaSet=rs0" in str(
            resolved.mongodb_url_value()
        )
    assert "/readyz" in " ".join(services["api"]["healthcheck"]["test"])


def test_every_setting_can_be_passed() -> None:
    fields = {f"VIGIL_{name.upper()}" for name in Settings.model_fields} - FIXED_BY_COMMANDS
    for name in ("api", "worker"):
        service = _compose()["services"][name]
        missing = fields - set(service["environment"])
        assert not missing, f"add {sorted(missing)} to x-vigil-env in docker-compose.yml"
        assert {"path": ".env", "required": False} in service["env_file"]
    shell = {
        **SECRETS,
        "VIGIL_CORS_ORIGINS": "https://app.example.com",
        "VIGIL_SECRET_KEYS_OLD": generate_key(),
        "VIGIL_LOG_LEVEL": "DEBUG",
        "VIGIL_SYNC_CONCURRENCY": "4",
        "VIGIL_PUBLIC_URL": "https://vigil.example.com",
    }
    for name in ("api", "worker"):
        resolved = settings_in(name, shell)
        assert resolved.cors_origin_list == ["https://app.example.com"]
        assert resolved.secret_keys_old is not None
        assert resolved.log_level == "DEBUG" and resolved.sync_concurrency == 4
        assert resolved.public_url == "https://vigil.example.com"
        # Unset in the shell: not set in the container either, so Vigil's defaults apply.
        defaults = settings_in(name, SECRETS)
        assert defaults.log_level == Settings().log_level
        assert defaults.cors_origins == "" and defaults.secret_keys_old is None


def test_the_secrets_are_required() -> None:
    with pytest.raises(ValueError, match="VIGIL_SECRET_KEY"):
        container_env("api", {"VIGIL_EVIDENCE_HMAC_KEY": generate_key()})
    with pytest.raises(ValueError, match="VIGIL_EVIDENCE_HMAC_KEY"):
        container_env("worker", {"VIGIL_SECRET_KEY": generate_key()})


def test_dockerfile_installs_the_package_and_serves() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install" in dockerfile and '"vigil", "serve"' in dockerfile
