"""The change watch's domain objects: why it is off, what it ignored, where it stands."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


class WatchReason(enum.StrEnum):
    """Why an integration's change watch is not watching."""

    NO_ADMIN_KEY = "NO_ADMIN_KEY"  # the events stream needs an organization Admin API key
    GUARD_STANDARD_REQUIRED = "GUARD_STANDARD_REQUIRED"  # the org audit log: 403
    MISSING_SCOPE = "MISSING_SCOPE"  # a scoped key without read:events:admin: 401
    NOT_CONNECTED = "NOT_CONNECTED"  # the integration is not CONNECTED
    DISABLED = "DISABLED"  # VIGIL_CHANGE_WATCH is off
    NO_WORKER = "NO_WORKER"  # no worker has started watching it (yet)
    FAILING = "FAILING"  # polls fail (``message`` says why); retried with backoff


class IgnoredReason(enum.StrEnum):
    """Why an event read from the stream led to no refresh."""

    OTHER_SITE = "OTHER_SITE"  # its ``sites`` container names another site
    NOT_ACCESS = "NOT_ACCESS"  # its action is about something else (logins, content, ...)
    NAMES_NOTHING = "NAMES_NOTHING"  # about access, but names no account or group
    DUPLICATE = "DUPLICATE"  # delivered again (at-least-once delivery)


class ActionKind(enum.StrEnum):
    """What the change watch makes of an action name (``event-actions``, read daily)."""

    ACCESS = "ACCESS"  # accounts, groups, memberships, product access, account status
    OTHER = "OTHER"


@dataclass(frozen=True, slots=True)
class Comparison:
    """A full sync's snapshot compared with the one targeted runs had built before it."""

    at: datetime
    full_snapshot_id: str
    targeted_snapshot_id: str
    differences: int
    unexplained: tuple[str, ...] = ()  # account ids no event explains (zero expected)


@dataclass(frozen=True, slots=True)
class WatchState:
    """What the worker watching an integration last recorded (``change_watch``)."""

    integration_id: str
    organization_id: str
    watching: bool = False
    reason: WatchReason | None = None
    message: str | None = None
    owner: str | None = None
    lease_expires_at: datetime | None = None
    last_polled_at: datetime | None = None
    last_event_at: datetime | None = None
    lag_seconds: float | None = None
    events_seen: int = 0
    refreshes: int = 0
    ignored: Mapping[str, int] = field(default_factory=dict)
    actions: Mapping[str, ActionKind] = field(default_factory=dict)
    actions_read_at: datetime | None = None
    comparison: Comparison | None = None


@dataclass(frozen=True, slots=True)
class ChangeWatch:
    """An ACCESS_REVIEW integration's change watch as the API shows it."""

    enabled: bool
    reason: WatchReason | None = None
    message: str | None = None
    last_event_at: datetime | None = None
    last_polled_at: datetime | None = None
    lag_seconds: float | None = None
    events_seen: int = 0
    refreshes: int = 0
    ignored: Mapping[IgnoredReason, int] = field(default_factory=dict)
    comparison: Comparison | None = None
