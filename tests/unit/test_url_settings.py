"""URL settings (defect 1): validated at start-up with a one-line error naming the setting;
browser origins derived as scheme://host[:port], so a frontend URL with a path works."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as cli
from api.settings import Settings, load_settings
from services.crypto import generate_key
from services.errors import ConfigurationError
from services.store import Store
from services.store.client import connect


def test_a_frontend_url_with_a_path_gives_its_origin() -> None:
    settings = Settings(frontend_url="https://app.example.com/integrations/done")
    assert settings.cors_origin_list == ["https://app.example.com"]
    settings = Settings(frontend_url="http://localhost:3000/x/", cors_origins="")
    assert settings.cors_origin_list == ["http://localhost:3000"]
    listed = Settings(cors_origins="https://a.example.com/app, https://B.example.com:8443")
    assert listed.cors_origin_list == ["https://a.example.com", "https://b.example.com:8443"]


def test_the_app_builds_with_a_frontend_url_with_a_path() -> None:
    """The server refused to start: Strawberry rejected the derived WebSocket origin."""
    client, embedded = connect(None)
    store = Store(client, "vigil_settings_test", embedded=embedded)
    settings = Settings(
        frontend_url="https://app.example.com/integrations/done",
        secret_key=generate_key(),
        evidence_hmac_key=generate_key(),
        run_worker=False,
    )
    assert create_app(settings, store=store) is not None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("FRONTEND_URL", "app.example.com/done"),
        ("PUBLIC_URL", "ftp://vigil.example.com"),
        ("ATLASSIAN_AUTH_URL", "https://"),
        ("ATLASSIAN_API_URL", "not a url"),
        ("CORS_ORIGINS", "https://ok.example.com,nope"),
        ("PUBLIC_URL", "https://vigil.example.com:99999"),
    ],
)
def test_bad_urls_are_refused_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(f"VIGIL_{name}", value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    message = str(caught.value)
    assert f"VIGIL_{name}" in message and "\n" not in message


def test_serve_with_a_bad_url_exits_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_FRONTEND_URL", "app.example.com")
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "VIGIL_FRONTEND_URL" in lines[0], result.output


# Every command that reads the settings, with arguments it accepts (it never gets further).
COMMANDS = [
    ["serve"],
    ["worker"],
    ["demo", "--port", "0"],
    ["sync", "--org", "org_x", "--purpose", "ACCESS_REVIEW"],
    ["watch", "--org", "org_x"],
    ["remediate", "--org", "org_x", "--dry-run"],
    ["org", "create", "Acme"],
    ["apikey", "create", "--org", "org_x", "--role", "VIEWER"],
    ["apikey", "revoke", "key_x"],
    ["user", "add", "--org", "org_x", "--email", "a@acme.test", "--role", "VIEWER"],
    ["evidence", "checkpoint", "--org", "org_x"],
    ["evidence", "verify", "--org", "org_x"],
    ["evidence", "public-key", "--org", "org_x"],
    ["evidence", "rotate-key", "--org", "org_x"],
    [
        *("audit", "export", "--org", "org_x"),
        *("--from", "2026-01-01", "--to", "2026-01-31", "--out", "bundle.zip"),
    ],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_every_command_with_a_bad_setting_exits_with_one_line(
    monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    """`vigil remediate` and `vigil demo` built their settings directly: a bad setting was a
    validation traceback (with the value) instead of the one line the other commands give."""
    monkeypatch.setenv("VIGIL_CORS_ORIGINS", "https://ok.example.com,nope")
    monkeypatch.setenv("VIGIL_MONGODB_URL", "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=1")
    result = CliRunner().invoke(cli, command)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "input_value" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "VIGIL_CORS_ORIGINS" in lines[0], result.output
