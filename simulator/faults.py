"""Fault injection: latency, 429/503, quota exhaustion, drops, truncation, slow bodies."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from simulator.clock import SimClock
from simulator.routing import DEFAULT_FAULT_FAMILIES, RouteInfo
from simulator.settings import LiveSettings

QUOTA_TENANT = "confluence-quota-tenant-based"
QUOTA_GLOBAL = "confluence-quota-global-based"
ACTIONS = ("429", "503", "quota", "drop", "status")
MODIFIERS = ("truncate", "slow")


@dataclass(frozen=True, slots=True)
class FaultConfig:
    """Random fault rates and their parameters (rates are shares 0.0-1.0 of requests).

    Faults apply only to requests whose family is in `families` (default: Confluence and
    Admin API endpoints, not the OAuth endpoints) and, if `routes` is set, whose
    normalised route name is in it. `truncate_mode`: `json` sends half the body with a
    matching Content-Length (invalid JSON); `length` announces the full Content-Length,
    sends half and closes the connection. `quota_limit`: hourly points per tenant
    (None = no quota accounting and no X-RateLimit headers).
    """

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    rate_429: float = 0.0
    rate_503: float = 0.0
    rate_drop: float = 0.0
    rate_truncate: float = 0.0
    rate_slow: float = 0.0
    retry_after: int = 1
    truncate_mode: str = "json"
    slow_chunks: int = 5
    slow_chunk_delay_ms: float = 200.0
    plain_text_errors: bool = False
    families: frozenset[str] = DEFAULT_FAULT_FAMILIES
    routes: frozenset[str] | None = None
    quota_limit: int | None = None


@dataclass(slots=True)
class ScriptedFault:
    """A fault for the next matching request(s); route None = any faultable request.

    kind: one of `429`, `503`, `quota`, `drop`, `status` (respond `status` with `body`),
    `truncate`, `slow`.
    """

    kind: str
    route: str | None = None
    times: int = 1
    status: int = 500
    body: str | None = None
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    retry_after: int | None = None


@dataclass(slots=True)
class Decision:
    """What to do to one request."""

    delay_s: float = 0.0
    action: str | None = None  # one of ACTIONS
    modifier: str | None = None  # one of MODIFIERS
    scripted: ScriptedFault | None = None
    retry_after: int = 1


class Faults(LiveSettings[FaultConfig]):
    """Mutable fault settings with a seeded RNG; safe to change while the server runs."""

    def __init__(self, clock: SimClock, seed: int = 1, config: FaultConfig | None = None) -> None:
        super().__init__(config or FaultConfig(), "fault settings")
        self.clock = clock
        self._rng = random.Random(f"faults:{seed}")
        self._scripts: list[ScriptedFault] = []
        self.quota_exhausted_until: datetime | None = None
        self.quota_reason = QUOTA_TENANT
        self._quota_429s = 0

    def _prepare(self, changes: dict[str, Any]) -> dict[str, Any]:
        """`families` and `routes` as frozensets (a list from JSON, a set from a test)."""
        for key in ("families", "routes"):
            if changes.get(key) is not None:
                changes[key] = frozenset(changes[key])
        return changes

    def clear(self) -> None:
        """Back to no faults: default config, no scripts, quota not exhausted."""
        with self._lock:
            self.config = FaultConfig()
            self._scripts.clear()
            self.quota_exhausted_until = None
            self._quota_429s = 0

    def script(self, kind: str, route: str | None = None, *, times: int = 1, **kw: Any) -> None:
        """Queue a deterministic fault for the next `times` matching requests."""
        if kind not in ACTIONS + MODIFIERS:
            raise ValueError(f"unknown fault kind {kind!r}")
        with self._lock:
            self._scripts.append(ScriptedFault(kind, route, times, **kw))

    def exhaust_quota(
        self,
        *,
        until: datetime | None = None,
        seconds: float | None = None,
        reason: str = QUOTA_TENANT,
    ) -> datetime:
        """Every faultable request gets 429 + RateLimit-Reason until `until` (default: the
        top of the next UTC hour, or now + seconds)."""
        now = self.clock.now()
        if until is None:
            until = now + timedelta(seconds=seconds) if seconds is not None else next_hour(now)
        with self._lock:
            self.quota_exhausted_until = until
            self.quota_reason = reason
        return until

    def next_quota_429_is_beta(self) -> bool:
        """Every second quota 429 carries the beta header names (§7), so clients read both."""
        with self._lock:
            self._quota_429s += 1
            return self._quota_429s % 2 == 0

    def quota_blocked(self) -> datetime | None:
        """The reset time while the quota is exhausted, else None."""
        until = self.quota_exhausted_until
        return until if until is not None and until > self.clock.now() else None

    def applies(self, route: RouteInfo) -> bool:
        """Whether random faults and latency may hit this request."""
        cfg = self.config
        return route.family in cfg.families and (cfg.routes is None or route.name in cfg.routes)

    def _take_script(self, route: RouteInfo) -> ScriptedFault | None:
        for index, fault in enumerate(self._scripts):
            matches = fault.route == route.name if fault.route else self.applies(route)
            if matches:
                fault.times -= 1
                if fault.times <= 0:
                    del self._scripts[index]
                return fault
        return None

    def decide(self, route: RouteInfo) -> Decision:
        """Draw the faults for one request (deterministic for a given request sequence)."""
        with self._lock:
            cfg = self.config
            decision = Decision(retry_after=cfg.retry_after)
            scripted = self._take_script(route)
            if scripted is not None:
                decision.scripted = scripted
                if scripted.kind in MODIFIERS:
                    decision.modifier = scripted.kind
                else:
                    decision.action = scripted.kind
                if scripted.retry_after is not None:
                    decision.retry_after = scripted.retry_after
            if not self.applies(route):
                return decision
            if cfg.latency_ms or cfg.jitter_ms:
                jitter = self._rng.uniform(-cfg.jitter_ms, cfg.jitter_ms)
                decision.delay_s = max(0.0, cfg.latency_ms + jitter) / 1000
            if decision.action is None and self.quota_blocked() is not None:
                decision.action = "quota"
            for action, rate in (
                ("drop", cfg.rate_drop),
                ("503", cfg.rate_503),
                ("429", cfg.rate_429),
            ):
                if decision.action is None and rate and self._rng.random() < rate:
                    decision.action = action
            for modifier, rate in (("truncate", cfg.rate_truncate), ("slow", cfg.rate_slow)):
                if decision.modifier is None and rate and self._rng.random() < rate:
                    decision.modifier = modifier
            return decision


def next_hour(now: datetime) -> datetime:
    """The top of the next UTC hour (when hourly quotas reset)."""
    return now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
