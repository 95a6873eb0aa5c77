"""Settings come from the environment only when built; roles nest."""

from __future__ import annotations

import pytest

from api.settings import Settings, load_settings
from services.errors import ConfigurationError
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


def test_collector_thresholds_default_override_and_bad_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings(_env_file=None).collector_thresholds == (50000, 20, 100)  # type: ignore[call-arg]
    assert Settings(gc_thresholds=" 1000, 10 ,10").collector_thresholds == (1000, 10, 10)
    assert Settings(gc_thresholds="").collector_thresholds is None  # Python's own
    for bad in ("0,10,10", "1000,10", "a,b,c", "1000,-1,10", "1000,10,10,10"):
        monkeypatch.setenv("VIGIL_GC_THRESHOLDS", bad)
        with pytest.raises(ConfigurationError, match=r"^VIGIL_GC_THRESHOLDS: expected three"):
            load_settings()


def test_a_bad_proxy_list_stops_the_start_naming_the_entry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VIGIL_TRUSTED_PROXIES", "10.0.0.0/8, proxy.local")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert str(caught.value) == (
        "VIGIL_TRUSTED_PROXIES: not an IP address or network: 'proxy.local'"
    )
