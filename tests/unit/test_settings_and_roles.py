"""Settings come from the environment only when built; roles nest."""

from __future__ import annotations

import pytest

from api.settings import Settings
from services.models import Role


def test_settings_read_vigil_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_ENV", "development")
    monkeypatch.setenv("VIGIL_PORT", "9123")
    monkeypatch.setenv("VIGIL_MONGODB_URL", "mongodb://user:pw@db:27017")
    s = Settings()
    assert s.development and s.port == 9123 and not s.json_logs
    assert "pw" not in repr(s)
    assert s.mongodb_url_value() == "mongodb://user:pw@db:27017"


def test_production_is_the_default() -> None:
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert s.env == "production" and s.json_logs and s.mongodb_url_value() is None


def test_roles_include_lower_roles() -> None:
    assert Role.ADMIN.allows(Role.REVIEWER) and Role.ADMIN.allows(Role.VIEWER)
    assert Role.REVIEWER.allows(Role.VIEWER) and not Role.REVIEWER.allows(Role.ADMIN)
    assert not Role.VIEWER.allows(Role.REVIEWER)
