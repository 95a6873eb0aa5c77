"""Alerts: channels (ADMIN configures, every role reads), deliveries and dead letters."""

from __future__ import annotations

from typing import Annotated

import strawberry

from resolvers.alert_types import (
    AlertChannel,
    AlertChannelPayload,
    AlertChannelSecretPayload,
    AlertDelivery,
    AlertDeliveryConnection,
    AlertDeliveryPayload,
    CreateEmailAlertChannelInput,
    CreateSlackAlertChannelInput,
    CreateWebhookAlertChannelInput,
    DeleteAlertChannelPayload,
    UpdateAlertChannelInput,
)
from resolvers.context import Info, principal_of
from resolvers.errors import mutation
from resolvers.relay import After, First
from services.alerts.models import DeliveryState

_CHANNEL = strawberry.argument(description="The channel.")


@strawberry.type(description="Reads of alert channels and deliveries.")
class AlertQuery:
    @strawberry.field(
        description="The organization's alert channels, oldest first (every role; never a URL "
        "or a secret)."
    )
    async def alert_channels(self, info: Info) -> list[AlertChannel]:
        found = await info.context.services.alerts.list_channels(principal_of(info))
        return [AlertChannel.from_domain(c) for c in found]

    @strawberry.field(
        description="Alert deliveries, newest first (every role). `state: DEAD_LETTER` lists "
        "the dead letters: deliveries whose every attempt failed, with the last error."
    )
    async def alert_deliveries(
        self,
        info: Info,
        state: Annotated[
            DeliveryState | None, strawberry.argument(description="Only deliveries in this state.")
        ] = None,
        channel_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this channel's.")
        ] = None,
        first: First = None,
        after: After = None,
    ) -> AlertDeliveryConnection:
        page = await info.context.services.alerts.deliveries(
            principal_of(info),
            state=state,
            channel_id=str(channel_id) if channel_id is not None else None,
            first=first,
            after=after,
        )
        return AlertDeliveryConnection.of(page, after)


@strawberry.type(description="Configuring alert channels and retrying deliveries (ADMIN).")
class AlertMutation:
    @mutation(
        "Add a webhook channel (ADMIN): alerts are POSTed to the URL as JSON signed "
        "with HMAC-SHA256 (docs/alerts.md). The signing secret is in the payload, this once."
    )
    async def create_webhook_alert_channel(
        self,
        info: Info,
        input: Annotated[
            CreateWebhookAlertChannelInput, strawberry.argument(description="Name and URL.")
        ],
    ) -> AlertChannelSecretPayload:
        channel, secret = await info.context.services.alerts.create_webhook(
            principal_of(info), name=input.name, url=input.url
        )
        return AlertChannelSecretPayload(
            channel=AlertChannel.from_domain(channel), signing_secret=secret
        )

    @mutation("Add a Slack incoming-webhook channel (ADMIN); its URL is stored encrypted.")
    async def create_slack_alert_channel(
        self,
        info: Info,
        input: Annotated[
            CreateSlackAlertChannelInput, strawberry.argument(description="Name and URL.")
        ],
    ) -> AlertChannelPayload:
        channel = await info.context.services.alerts.create_slack(
            principal_of(info), name=input.name, webhook_url=input.webhook_url
        )
        return AlertChannelPayload(channel=AlertChannel.from_domain(channel))

    @mutation("Add an email channel (ADMIN); NOT_CONFIGURED when the server has no SMTP settings.")
    async def create_email_alert_channel(
        self,
        info: Info,
        input: Annotated[
            CreateEmailAlertChannelInput, strawberry.argument(description="Name and addresses.")
        ],
    ) -> AlertChannelPayload:
        channel = await info.context.services.alerts.create_email(
            principal_of(info), name=input.name, to=input.recipients
        )
        return AlertChannelPayload(channel=AlertChannel.from_domain(channel))

    @mutation(
        "Rename, enable or disable a channel, or change an email channel's recipients (ADMIN)."
    )
    async def update_alert_channel(
        self,
        info: Info,
        input: Annotated[UpdateAlertChannelInput, strawberry.argument(description="Changes.")],
    ) -> AlertChannelPayload:
        channel = await info.context.services.alerts.update(
            principal_of(info),
            str(input.channel_id),
            name=input.name,
            enabled=input.enabled,
            to=input.recipients,
        )
        return AlertChannelPayload(channel=AlertChannel.from_domain(channel))

    @mutation(
        "A new signing secret for a webhook channel (ADMIN), shown this once; the "
        "old one stops signing at once."
    )
    async def rotate_alert_channel_secret(
        self,
        info: Info,
        id: Annotated[strawberry.ID, _CHANNEL],
    ) -> AlertChannelSecretPayload:
        channel, secret = await info.context.services.alerts.rotate_secret(
            principal_of(info), str(id)
        )
        return AlertChannelSecretPayload(
            channel=AlertChannel.from_domain(channel), signing_secret=secret
        )

    @mutation(
        "Delete a channel, its secrets and its pending deliveries (ADMIN); its "
        "past deliveries stay listed."
    )
    async def delete_alert_channel(
        self,
        info: Info,
        id: Annotated[strawberry.ID, _CHANNEL],
    ) -> DeleteAlertChannelPayload:
        deleted = await info.context.services.alerts.delete(principal_of(info), str(id))
        return DeleteAlertChannelPayload(deleted_channel_id=strawberry.ID(deleted))

    @mutation(
        "Queue a test alert to one channel (ADMIN): sent by the worker within "
        "seconds, retried and dead-lettered like any delivery (watch `alertDeliveries`)."
    )
    async def send_test_alert(
        self,
        info: Info,
        channel_id: Annotated[strawberry.ID, _CHANNEL],
    ) -> AlertDeliveryPayload:
        delivery = await info.context.services.alerts.send_test(principal_of(info), str(channel_id))
        return AlertDeliveryPayload(delivery=AlertDelivery.from_domain(delivery))

    @mutation(
        "Queue a dead letter again, attempts from zero (ADMIN); NOT_DEAD_LETTER "
        "for any other delivery."
    )
    async def retry_alert_delivery(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The dead letter.")],
    ) -> AlertDeliveryPayload:
        delivery = await info.context.services.alerts.retry(principal_of(info), str(id))
        return AlertDeliveryPayload(delivery=AlertDelivery.from_domain(delivery))
