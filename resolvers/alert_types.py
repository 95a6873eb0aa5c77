"""GraphQL types of alert channels, alerts and their deliveries (docs/alerts.md)."""

from __future__ import annotations

from datetime import datetime

import strawberry

import resolvers.check_types  # noqa: F401  (wraps CheckStatus as the GraphQL enum)
from resolvers.actors import actor
from resolvers.context import Info
from resolvers.enums import graphql_enum
from resolvers.errors import payload, result_field
from resolvers.mapping import mapped
from resolvers.relay import Connection, Edge
from resolvers.types import Actor
from services.alerts import models
from services.alerts.models import AlertKind, ChannelKind, ChannelStatus, DeliveryState
from services.checks.models import CheckStatus
from services.paging import Slice

graphql_enum(
    ChannelKind,
    name="AlertChannelKind",
    description="Where an alert channel sends.",
    values={
        ChannelKind.WEBHOOK: "An HTTPS endpoint receiving signed JSON (docs/alerts.md).",
        ChannelKind.SLACK: "A Slack incoming webhook (Slack's message format).",
        ChannelKind.EMAIL: "Email through the server's SMTP settings.",
    },
)
graphql_enum(
    ChannelStatus,
    name="AlertChannelStatus",
    description="Whether a channel is used and whether its latest attempt worked.",
    values={
        ChannelStatus.ACTIVE: "Enabled; its latest delivery attempt (if any) succeeded.",
        ChannelStatus.FAILING: "Enabled, but its latest delivery attempt failed (`lastError`).",
        ChannelStatus.DISABLED: "Disabled: it receives no new alerts.",
    },
)
graphql_enum(
    AlertKind,
    name="AlertKind",
    description="What an alert tells.",
    values={
        AlertKind.CHECK_STATUS_CHANGED: "A check turned FAILING or ERROR, or back to PASSING.",
        AlertKind.SYNC_FAILED: "A sync run FAILED.",
        AlertKind.REMEDIATION_FAILED: "A remediation action FAILED.",
        AlertKind.TEST: "A test sent with `sendTestAlert`.",
    },
)
graphql_enum(
    DeliveryState,
    name="AlertDeliveryState",
    description="Where one message to one channel is.",
    values={
        DeliveryState.PENDING: "Waiting for its first attempt or for a retry (`nextAttemptAt`).",
        DeliveryState.SENT: "The channel took it.",
        DeliveryState.DEAD_LETTER: "Every attempt failed (`lastError`); `retryAlertDelivery` "
        "queues it again.",
    },
)


@strawberry.type(
    description="A place alerts go: a webhook, a Slack incoming webhook or email recipients. "
    "Its URL and signing secret are never returned."
)
class AlertChannel:
    id: strawberry.ID = strawberry.field(description="Opaque channel id.")
    name: str = strawberry.field(description="The name an ADMIN gave it (unique).")
    kind: ChannelKind = strawberry.field(description="Where it sends.")
    enabled: bool = strawberry.field(description="Whether it receives new alerts.")
    status: ChannelStatus = strawberry.field(description="Used, and working?")
    target: str = strawberry.field(
        description="What may be shown of where it sends: a webhook's `scheme://host[:port]`, "
        "Slack's host; empty for email (see `recipients`)."
    )
    recipients: list[str] = strawberry.field(
        description="An email channel's addresses; empty for the others."
    )
    created_at: datetime = strawberry.field(description="When it was created (UTC).")
    created_by: strawberry.ID = strawberry.field(description="The API key that created it.")
    last_delivered_at: datetime | None = strawberry.field(
        description="When it last took a delivery; null if never."
    )
    last_failed_at: datetime | None = strawberry.field(
        description="When a delivery attempt to it last failed; null if never."
    )
    last_error: str | None = strawberry.field(
        description="Why that attempt failed (never a URL or a secret); null if none failed."
    )

    @strawberry.field(description="Who created it: the API key's name and role (every role).")
    async def created_by_actor(self, info: Info) -> Actor | None:
        return await actor(info, str(self.created_by))

    @classmethod
    def from_domain(cls, c: models.Channel) -> AlertChannel:
        """Map the domain channel (it holds no secret)."""
        return mapped(cls, c)


@strawberry.type(
    description="One change worth telling, as a delivery carries it. The webhook body has the "
    "same fields (docs/alerts.md)."
)
class Alert:
    id: str = strawberry.field(
        description="The alert's identity in the organization (e.g. `check:<checkId>:"
        "<resultId>`): one change is one alert, whatever republished it."
    )
    kind: AlertKind = strawberry.field(description="What it tells.")
    at: datetime = strawberry.field(description="When the change happened (UTC).")
    summary: str = strawberry.field(description="One line for people.")
    detail: str | None = strawberry.field(description="The reason or error, in words.")
    check_id: strawberry.ID | None = strawberry.field(
        description="CHECK_STATUS_CHANGED: the check."
    )
    status: CheckStatus | None = strawberry.field(
        description="CHECK_STATUS_CHANGED: the check's new status."
    )
    previous_status: CheckStatus | None = strawberry.field(
        description="CHECK_STATUS_CHANGED: its status before; null on a first evaluation."
    )
    integration_id: strawberry.ID | None = strawberry.field(
        description="SYNC_FAILED and REMEDIATION_FAILED: the integration."
    )
    sync_run_id: strawberry.ID | None = strawberry.field(description="SYNC_FAILED: the failed run.")
    remediation_action_id: strawberry.ID | None = strawberry.field(
        description="REMEDIATION_FAILED: the failed action."
    )

    @classmethod
    def from_domain(cls, a: models.Alert) -> Alert:
        """Map the domain alert."""
        f = a.fields

        def some_id(name: str) -> strawberry.ID | None:
            value = f.get(name)
            return strawberry.ID(str(value)) if value else None

        def status(name: str) -> CheckStatus | None:
            value = f.get(name)
            return CheckStatus(value) if value else None

        return mapped(
            cls,
            a,
            id=a.key,
            check_id=some_id("checkId"),
            status=status("status"),
            previous_status=status("previousStatus"),
            integration_id=some_id("integrationId"),
            sync_run_id=some_id("syncRunId"),
            remediation_action_id=some_id("remediationActionId"),
        )


@strawberry.type(
    description="One message to one channel: the alerts of one coalescing window (or a test), "
    "attempted until SENT or a DEAD_LETTER. Its id is the `Vigil-Delivery` header and the "
    "body's `id`, the same on every attempt."
)
class AlertDelivery:
    id: strawberry.ID = strawberry.field(description="Opaque delivery id.")
    channel_id: strawberry.ID = strawberry.field(description="The channel (it may be deleted).")
    channel_name: str = strawberry.field(description="The channel's name when it was queued.")
    channel_kind: ChannelKind = strawberry.field(description="The channel's kind.")
    state: DeliveryState = strawberry.field(description="Where it is.")
    attempts: int = strawberry.field(
        description="Attempts made since it was queued (or last retried)."
    )
    alerts: list[Alert] = strawberry.field(description="What it tells, oldest first.")
    created_at: datetime = strawberry.field(description="When it was queued (UTC).")
    next_attempt_at: datetime | None = strawberry.field(
        description="PENDING: when it is attempted next; null otherwise."
    )
    last_error: str | None = strawberry.field(
        description="Why the latest failed attempt failed (never a URL or a secret)."
    )
    sent_at: datetime | None = strawberry.field(description="SENT: when.")
    dead_lettered_at: datetime | None = strawberry.field(description="DEAD_LETTER: since when.")

    @classmethod
    def from_domain(cls, d: models.Delivery) -> AlertDelivery:
        """Map the domain delivery."""
        return mapped(
            cls,
            d,
            alerts=[Alert.from_domain(a) for a in d.alerts],
            next_attempt_at=d.next_attempt_at if d.state is DeliveryState.PENDING else None,
        )


@strawberry.type(description="A delivery and its cursor.")
class AlertDeliveryEdge(Edge[AlertDelivery]):
    node: AlertDelivery = strawberry.field(description="The delivery.")


@strawberry.type(description="Deliveries, newest first.")
class AlertDeliveryConnection(Connection[AlertDeliveryEdge]):
    @classmethod
    def of(cls, page: Slice[models.Delivery], after: str | None) -> AlertDeliveryConnection:
        """Map a service-layer slice."""
        return cls.of_nodes(page, AlertDelivery.from_domain, after)


_NAME = "The channel's name: 1-100 characters, unique in the organization."


@strawberry.input(description="A webhook receiving signed JSON.")
class CreateWebhookAlertChannelInput:
    name: str = strawberry.field(description=_NAME)
    url: str = strawberry.field(
        description="Where to POST: an `https://` URL (not localhost or a private address). "
        "Stored encrypted, never returned."
    )


@strawberry.input(description="A Slack incoming webhook.")
class CreateSlackAlertChannelInput:
    name: str = strawberry.field(description=_NAME)
    webhook_url: str = strawberry.field(
        description="The incoming webhook's URL (`https://hooks.slack.com/services/…`). It is "
        "a secret: stored encrypted, never returned."
    )


@strawberry.input(description="Email to a few addresses, through the server's SMTP settings.")
class CreateEmailAlertChannelInput:
    name: str = strawberry.field(description=_NAME)
    recipients: list[str] = strawberry.field(description="1 to 20 email addresses.")


@strawberry.input(description="What to change of a channel; omitted fields stay as they are.")
class UpdateAlertChannelInput:
    channel_id: strawberry.ID = strawberry.field(description="The channel.")
    name: str | None = strawberry.field(default=None, description=_NAME)
    enabled: bool | None = strawberry.field(
        default=None,
        description="False: it receives no new alerts (pending ones are dropped "
        "to the dead letters when attempted).",
    )
    recipients: list[str] | None = strawberry.field(
        default=None, description="An email channel's new addresses (1 to 20)."
    )


@payload("The channel after the change.")
class AlertChannelPayload:
    channel: AlertChannel | None = result_field("The channel")


@payload("A webhook channel and its signing secret, shown this once.")
class AlertChannelSecretPayload:
    channel: AlertChannel | None = result_field("The channel")
    signing_secret: str | None = strawberry.field(
        default=None,
        description="The HMAC-SHA256 key of the `Vigil-Signature` header (docs/alerts.md). "
        "Shown only here: store it now; `rotateAlertChannelSecret` makes a new one.",
    )


@payload("The deleted channel's id.")
class DeleteAlertChannelPayload:
    deleted_channel_id: strawberry.ID | None = result_field("The id")


@payload("The delivery queued.")
class AlertDeliveryPayload:
    delivery: AlertDelivery | None = result_field("The delivery, PENDING")
