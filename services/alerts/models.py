"""Alert channels, alerts and their deliveries as domain values (docs/alerts.md).

An *alert* is one change worth telling (a check's status, a failed sync, a failed remediation
action); its ``key`` is its identity within the organization, so the same change recorded twice
is one alert. A *delivery* is one message to one channel: the alerts of one coalescing window,
sent (and retried) until it is SENT or becomes a DEAD_LETTER.

This module is a leaf: it imports nothing from the store or the services.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.errors import VigilError


class ChannelKind(enum.StrEnum):
    """Where a channel sends: a signed JSON webhook, a Slack incoming webhook, or email."""

    WEBHOOK = "WEBHOOK"
    SLACK = "SLACK"
    EMAIL = "EMAIL"


class ChannelStatus(enum.StrEnum):
    """Whether a channel is being used and whether its latest attempt worked."""

    ACTIVE = "ACTIVE"
    FAILING = "FAILING"
    DISABLED = "DISABLED"


class AlertKind(enum.StrEnum):
    """What an alert tells."""

    CHECK_STATUS_CHANGED = "CHECK_STATUS_CHANGED"
    SYNC_FAILED = "SYNC_FAILED"
    REMEDIATION_FAILED = "REMEDIATION_FAILED"
    TEST = "TEST"


class DeliveryState(enum.StrEnum):
    """Where one message to one channel is."""

    PENDING = "PENDING"
    SENT = "SENT"
    DEAD_LETTER = "DEAD_LETTER"


@dataclass(frozen=True, slots=True)
class Channel:
    """A configured channel, without its secrets (URL, signing secret: ``ChannelSecret``).

    ``target`` is what may be shown of where it sends: a webhook's ``scheme://host[:port]``,
    ``hooks.slack.com`` for Slack, empty for email (``recipients`` say it).
    """

    id: str
    organization_id: str
    name: str
    kind: ChannelKind
    enabled: bool
    target: str
    recipients: tuple[str, ...]
    created_at: datetime
    created_by: str
    last_delivered_at: datetime | None = None
    last_failed_at: datetime | None = None
    last_error: str | None = None

    @property
    def status(self) -> ChannelStatus:
        """DISABLED, FAILING when the latest attempt failed, else ACTIVE."""
        if not self.enabled:
            return ChannelStatus.DISABLED
        failed, delivered = self.last_failed_at, self.last_delivered_at
        if failed is not None and (delivered is None or failed > delivered):
            return ChannelStatus.FAILING
        return ChannelStatus.ACTIVE


@dataclass(frozen=True, slots=True)
class ChannelChanges:
    """What an update changes of a channel: each field given (not None) replaces its own."""

    name: str | None = None
    enabled: bool | None = None
    recipients: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class ChannelSecret:
    """A channel's secrets, decrypted: ``url`` (webhook, Slack) and ``signing_secret``
    (webhook). Never printed."""

    url: str | None = field(default=None, repr=False)
    signing_secret: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return "ChannelSecret(…)"

    def to_json(self) -> dict[str, str]:
        """The fields to encrypt."""
        return {k: v for k, v in (("url", self.url), ("signing_secret", self.signing_secret)) if v}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ChannelSecret:
        """What ``to_json`` wrote."""
        return cls(url=raw.get("url"), signing_secret=raw.get("signing_secret"))


@dataclass(frozen=True, slots=True)
class Alert:
    """One change worth telling. ``key`` identifies it within the organization (a check
    result's id, a sync run's id, an action's approval): recording it again changes nothing.

    ``fields`` are the kind's JSON fields (``checkId``, ``status``, ``syncRunId`` …, see
    docs/alerts.md), ``detail`` the reason or error in words.
    """

    key: str
    organization_id: str
    kind: AlertKind
    at: datetime
    summary: str
    detail: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The alert as it appears in a webhook body (``at`` as ISO-8601 text)."""
        return {
            "id": self.key,
            "kind": self.kind.value,
            "at": self.at.isoformat(),
            "summary": self.summary,
            "detail": self.detail,
            **self.fields,
        }

    @classmethod
    def from_json(cls, organization_id: str, raw: Mapping[str, Any]) -> Alert:
        """The alert ``to_json`` wrote."""
        common = {"id", "kind", "at", "summary", "detail"}
        return cls(
            key=raw["id"],
            organization_id=organization_id,
            kind=AlertKind(raw["kind"]),
            at=datetime.fromisoformat(raw["at"]),
            summary=raw["summary"],
            detail=raw.get("detail"),
            fields={k: v for k, v in raw.items() if k not in common},
        )


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message (the alerts of one coalescing window, or a test) to one channel."""

    id: str
    organization_id: str
    channel_id: str
    channel_name: str
    channel_kind: ChannelKind
    alerts: tuple[Alert, ...]
    state: DeliveryState
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    updated_at: datetime | None = None
    sent_at: datetime | None = None
    dead_lettered_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DeliveryFilter:
    """The deliveries of an organization a page covers: of one state or all, of one channel
    or all."""

    organization_id: str
    state: DeliveryState | None = None
    channel_id: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryClaim:
    """A delivery leased by one worker: the token fences every later write."""

    delivery: Delivery
    token: int


class DeliveryFailed(VigilError):
    """A channel did not take a message. ``message`` never contains a URL or a secret;
    ``retry_after`` is the receiver's ``Retry-After`` in seconds, if it sent one."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    """An attempt at a delivery as ``finish`` records it: the state it leaves, the attempts
    so far, when, and a failure's error and when to try again."""

    state: DeliveryState
    attempts: int
    at: datetime
    error: str | None = None
    next_attempt_at: datetime | None = None
