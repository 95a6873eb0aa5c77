"""Process settings from the environment (`VIGIL_` prefix), built by the caller, never at import."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from api.cors import development_origins
from services.errors import ConfigurationError

_URL_SETTINGS = ("public_url", "frontend_url", "atlassian_auth_url", "atlassian_api_url")
_OPTIONAL_URL_SETTINGS = ("oidc_issuer",)


class Settings(BaseSettings):
    """Every knob of SPEC §8; secrets are ``SecretStr`` so they never print."""

    model_config = SettingsConfigDict(env_prefix="VIGIL_", extra="ignore")

    env: Literal["production", "development"] = "production"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    log_level: str = "INFO"
    log_json: bool | None = None

    mongodb_url: SecretStr | None = None
    mongodb_db: str = "vigil"
    # The store refuses to write a document over this size (services/store/guard.py): far
    # below MongoDB's 16 MB, so growth shows as an error long before data is lost.
    max_document_bytes: int = Field(default=4 * 1024 * 1024, ge=64 * 1024, le=16 * 1024 * 1024)

    secret_key: SecretStr | None = None
    secret_keys_old: SecretStr | None = None
    evidence_hmac_key: SecretStr | None = None

    public_url: str = "http://127.0.0.1:8000"
    frontend_url: str = "http://127.0.0.1:3000"
    cors_origins: str = ""
    # The built web console served at /console (default: console/dist of the source tree).
    console_dir: str | None = None
    oauth_client_id: str = ""
    oauth_client_secret: SecretStr | None = None
    atlassian_auth_url: str = "https://auth.atlassian.com"
    atlassian_api_url: str = "https://api.atlassian.com"
    allow_insecure_urls: bool = False
    sync_interval_minutes: int = Field(default=360, ge=1)
    # The worker (scheduler + sync runs) inside `vigil serve`; `--no-worker` turns it off.
    run_worker: bool = True
    scheduler_tick_seconds: float = Field(default=5.0, gt=0)
    # A file the scheduler rewrites after every completed tick (health checks read its age).
    worker_heartbeat_file: str | None = None
    sync_max_parallel: int = Field(default=4, ge=1)
    sync_concurrency: int = Field(default=8, ge=1, le=32)
    # Admin API role-assignment reads per ACCESS_REVIEW run, at most (docs/access.md).
    sync_role_reads: int = Field(default=200, ge=0, le=5000)
    sync_lease_seconds: float = Field(default=60.0, ge=1)
    snapshot_retention: int = Field(default=30, ge=1)
    # The change watch (ADR 020): with an Admin API key, the worker polls the organization's
    # audit events this often and refreshes only what they name (TARGETED runs).
    change_watch: bool = True
    change_watch_poll_seconds: float = Field(default=20.0, ge=0.1, le=3600)
    # Events coalesce this long into one targeted run.
    change_watch_coalesce_seconds: float = Field(default=3.0, ge=0, le=600)
    # The first read of an integration's stream starts this far back.
    change_watch_start_minutes: float = Field(default=5.0, ge=0, le=1440)
    change_watch_lease_seconds: float = Field(default=60.0, ge=1)
    # After a full sync, wait this long for late events before comparing it with the
    # snapshot targeted runs built (Atlassian does not document the stream's freshness).
    change_watch_settle_seconds: float = Field(default=120.0, ge=0)
    # Accounts changed since the last full sync that a targeted snapshot may hold; beyond,
    # the refresh reads everything.
    change_watch_max_layer: int = Field(default=2000, ge=1, le=20000)
    # Checks: the periodic re-evaluation and the offboarding grace period (SPEC §6).
    check_interval_minutes: float = Field(default=15.0, gt=0)
    offboarding_grace_hours: float = Field(default=24.0, ge=0)
    # The worker logs a signed checkpoint of every evidence chain this often (ADR 008).
    evidence_checkpoint_minutes: float = Field(default=60.0, gt=0)
    # ... and sends it off the database: appended to this file (which `vigil evidence
    # verify` and verifyEvidenceChain read back) and/or POSTed to this webhook URL.
    evidence_checkpoint_file: str | None = None
    evidence_checkpoint_url: str | None = None

    # Alerts (docs/alerts.md): how long changes coalesce into one message, how often a worker
    # looks for alerts to send (it is also woken at once in its own process), attempts and the
    # first retry delay (doubling), the timeout of one webhook or Slack request.
    alert_coalesce_seconds: float = Field(default=5.0, ge=0, le=300)
    alert_poll_seconds: float = Field(default=2.0, gt=0, le=60)
    alert_max_attempts: int = Field(default=3, ge=1, le=10)
    alert_retry_base_seconds: float = Field(default=15.0, gt=0, le=3600)
    alert_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # Email channels: the SMTP server (no host: email channels cannot be created).
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "vigil@localhost"
    # Remediation (ADR 015): how long an approved action's read-backs may take before it is
    # FAILED (Atlassian documents up to 30 s of eventual consistency for role changes), the
    # lease of an action being carried out, and how often the worker resumes actions whose
    # process died.
    remediation_readback_seconds: float = Field(default=60.0, gt=0)
    remediation_lease_seconds: float = Field(default=120.0, ge=1)
    remediation_resume_seconds: float = Field(default=30.0, gt=0)
    # Sign-in (docs/signin.md): Atlassian (the 3LO app above, scope read:me) unless turned off,
    # and one OpenID Connect provider when its issuer is set; who may sign in at all.
    signin_atlassian: bool = True
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: SecretStr | None = None
    oidc_name: str = "OpenID Connect"
    signin_email_domains: str = ""
    session_idle_minutes: float = Field(default=60.0, gt=0)
    session_max_hours: float = Field(default=12.0, gt=0)
    invitation_days: float = Field(default=7.0, gt=0)

    rate_limit_per_minute: int = Field(default=600, ge=1)
    # Operation cost per API key per minute (the cost model of docs/api.md), HTTP and
    # WebSocket together; at least one operation at the per-operation budget.
    cost_limit_per_minute: int = Field(default=1_000_000, ge=1)
    # Requests that present no valid key, per client address per minute (429 beyond),
    # refused before any database work once the address is over.
    unauthenticated_per_minute: int = Field(default=60, ge=1)
    # Proxies (addresses or networks, comma-separated) whose X-Forwarded-For names the
    # client; empty: the peer is the client and the header is ignored.
    trusted_proxies: str = ""
    max_query_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 5000
    # An operation's cost: items its lists may return times what each weighs (docs/api.md).
    max_query_cost: int = Field(default=100_000, ge=1)
    # The largest answer: over it, a GraphQL error instead of the data (never a cut body).
    max_response_bytes: int = Field(default=8 * 1024 * 1024, ge=64 * 1024)
    max_subscriptions_per_connection: int = 20
    max_websockets_per_key: int = Field(default=10, ge=1)
    # How long a WebSocket trusts its key between re-checks (revocation also closes at once).
    key_recheck_seconds: float = Field(default=5.0, gt=0)
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    operation_timeout_seconds: float = Field(default=30.0, gt=0)
    # Slow clients: the request line and headers, then the body, must arrive within these;
    # a response (or a WebSocket close) the client does not read for SEND_TIMEOUT_SECONDS
    # is dropped with its connection.
    headers_timeout_seconds: float = Field(default=10.0, gt=0)
    body_timeout_seconds: float = Field(default=30.0, gt=0)
    send_timeout_seconds: float = Field(default=30.0, gt=0)
    # Idle keep-alive connections close after this; at most MAX_CONNECTIONS connections
    # and requests at once per process (503 beyond).
    keep_alive_seconds: int = Field(default=5, ge=1)
    max_connections: int = Field(default=2048, ge=1)
    # The cyclic garbage collector's three thresholds in `vigil serve` and `vigil worker`
    # (ADR 024); empty keeps Python's own (700,10,10).
    gc_thresholds: str = "50000,20,100"

    @model_validator(mode="after")
    def _budgets(self) -> Settings:
        if self.cost_limit_per_minute < self.max_query_cost:
            raise ValueError(
                "VIGIL_COST_LIMIT_PER_MINUTE must be at least VIGIL_MAX_QUERY_COST "
                f"({self.max_query_cost}): otherwise an operation within the budget never runs"
            )
        return self

    @property
    def collector_thresholds(self) -> tuple[int, int, int] | None:
        """``gc_thresholds`` as :func:`gc.set_threshold` takes them (None: Python's own)."""
        return collector_thresholds(self.gc_thresholds)

    @field_validator("trusted_proxies", "gc_thresholds")
    @classmethod
    def _readable(cls, value: str, info: ValidationInfo) -> str:
        """A setting kept as text is read once at start-up, so a bad one stops it."""
        _READ_AS[str(info.field_name)](value)
        return value

    @property
    def trusted_proxy_list(self) -> list[str]:
        """The proxies whose ``X-Forwarded-For`` is believed (addresses or networks)."""
        return [str(n) for n in proxy_networks(self.trusted_proxies)]

    @property
    def development(self) -> bool:
        """Whether development conveniences (GraphiQL, introspection) are on."""
        return self.env == "development"

    @property
    def json_logs(self) -> bool:
        """JSON log lines in production unless told otherwise."""
        return self.log_json if self.log_json is not None else not self.development

    @field_validator(*_URL_SETTINGS)
    @classmethod
    def _http_url(cls, value: str) -> str:
        origin_of(value)
        return value

    @field_validator(*_OPTIONAL_URL_SETTINGS)
    @classmethod
    def _optional_http_url(cls, value: str) -> str:
        if value.strip():
            origin_of(value)
        return value.strip()

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: str) -> str:
        for entry in value.split(","):
            if entry.strip():
                origin_of(entry.strip())
        return value

    @field_validator("smtp_password")
    @classmethod
    def _password_over_tls(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        """A password never crosses the network in clear: ``none`` only for a local relay."""
        data = info.data
        if (
            value is not None
            and data.get("smtp_security") == "none"
            and not data.get("allow_insecure_urls")
            and not _loopback(data.get("smtp_host") or "")
        ):
            raise ValueError(
                "a password is sent in clear with VIGIL_SMTP_SECURITY=none: use starttls or "
                "tls, or a relay on this machine (localhost)"
            )
        return value

    @property
    def cors_origin_list(self) -> list[str]:
        """Configured browser origins (for CORS and WebSocket origin checks): each
        ``scheme://host[:port]``, so a URL with a path (where OAuth lands) is fine; in
        development also the common dev servers (``development_origins``)."""
        origins = [origin_of(o.strip()) for o in self.cors_origins.split(",") if o.strip()]
        return origins or [origin_of(self.frontend_url), *development_origins(self.development)]

    @property
    def public_origin(self) -> str:
        """Vigil's own origin (``PUBLIC_URL``): where its console and cookie live."""
        return origin_of(self.public_url)

    @property
    def browser_origins(self) -> list[str]:
        """Origins whose cookie-authenticated requests and WebSockets are accepted."""
        return list(dict.fromkeys([self.public_origin, *self.cors_origin_list]))

    @property
    def session_cookie_secure(self) -> bool:
        """The session cookie is ``Secure`` outside development."""
        return not self.development

    @property
    def email_domain_list(self) -> list[str]:
        """``SIGNIN_EMAIL_DOMAINS``: the only email domains that may sign in (empty: any)."""
        return [d.strip().lower() for d in self.signin_email_domains.split(",") if d.strip()]

    def mongodb_url_value(self) -> str | None:
        """The database URL, or None for the embedded store."""
        return self.mongodb_url.get_secret_value() if self.mongodb_url else None


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of an http(s) URL; ValueError saying what is wrong."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise ValueError(f"not a valid URL: {url!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http(s) URL such as https://vigil.example.com, got {url!r}")
    host = parts.hostname
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


def proxy_networks(value: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The comma-separated addresses or networks of ``value``; ValueError naming a bad one."""
    networks = []
    for entry in value.split(","):
        if entry.strip():
            try:
                networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                raise ValueError(f"not an IP address or network: {entry.strip()!r}") from None
    return networks


def collector_thresholds(value: str) -> tuple[int, int, int] | None:
    """Three comma-separated whole numbers, the first at least 1 (0 would turn the collector
    off and leak every reference cycle), or empty for None; ValueError naming what is wrong."""
    if not value.strip():
        return None
    parts = [p.strip() for p in value.split(",")]
    if len(parts) != 3 or not all(p.isdigit() for p in parts) or int(parts[0]) < 1:
        raise ValueError(
            f"expected three whole numbers such as 50000,20,100 (the first at least 1), "
            f"got {value!r}"
        )
    first, second, third = (int(p) for p in parts)
    return first, second, third


#: Settings kept as text, and what reads them.
_READ_AS: dict[str, Callable[[str], object]] = {
    "trusted_proxies": proxy_networks,
    "gc_thresholds": collector_thresholds,
}


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment; ``ConfigurationError`` with one line naming each bad
    setting (``VIGIL_FRONTEND_URL: …``) instead of a validation traceback."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            message = error["msg"].removeprefix("Value error, ")
            if not error["loc"]:  # a rule across settings names them itself
                problems.append(message)
                continue
            name = "VIGIL_" + "_".join(str(p) for p in error["loc"]).upper()
            problems.append(f"{name}: {message}")
        raise ConfigurationError("; ".join(problems)) from None
