"""The alerts API of the service layer: channels (ADMIN configures, every role reads), the
deliveries and their dead letters, a test alert, retrying a dead letter."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import KW_ONLY, dataclass
from datetime import datetime
from functools import partial
from typing import Any, Protocol

from services.alerts.changes import test_alert
from services.alerts.channels import (
    ChannelSecrets,
    EnvelopeRepo,
    channel_name,
    channel_url,
    new_signing_secret,
    recipients,
)
from services.alerts.models import (
    Channel,
    ChannelChanges,
    ChannelKind,
    ChannelSecret,
    Delivery,
    DeliveryFilter,
    DeliveryState,
)
from services.alerts.outbox import Wakeup, pending
from services.api_keys import require_role
from services.clock import Clock, utcnow_ms
from services.errors import AlreadyExists, Conflict, NotFound
from services.ids import new_id
from services.models import Principal, Role
from services.paging import (
    Slice,
    time_slice,
)

MAX_CHANNELS = 20


class ChannelsRepo(EnvelopeRepo, Protocol):
    """The ``AlertChannelRepository`` methods ``AlertService`` calls (and ``ChannelSecrets``)."""

    async def create(self, channel: Channel, *, envelope: Mapping[str, Any] | None) -> Channel: ...
    async def get(self, *, organization_id: str, channel_id: str) -> Channel | None: ...
    async def list(self, *, organization_id: str) -> list[Channel]: ...
    async def count(self, *, organization_id: str) -> int: ...
    async def update(
        self, *, organization_id: str, channel_id: str, changes: ChannelChanges
    ) -> Channel | None: ...
    async def delete(self, *, organization_id: str, channel_id: str) -> bool: ...


class DeliveriesRepo(Protocol):
    """The ``AlertDeliveryRepository`` methods ``AlertService`` calls."""

    async def enqueue(self, deliveries: Sequence[Delivery]) -> None: ...
    async def get(self, *, organization_id: str, delivery_id: str) -> Delivery | None: ...
    async def page(
        self, which: DeliveryFilter, *, limit: int, before: tuple[datetime, str] | None
    ) -> tuple[list[Delivery], int]: ...
    async def retry(
        self, *, organization_id: str, delivery_id: str, now: datetime
    ) -> Delivery | None: ...
    async def drop_pending(self, *, organization_id: str, channel_id: str) -> int: ...


@dataclass(eq=False, repr=False)
class AlertService:
    """Alert channels and deliveries of the caller's organization."""

    secrets: ChannelSecrets
    wakeup: Wakeup
    _: KW_ONLY
    channels: ChannelsRepo
    alert_deliveries: DeliveriesRepo
    allow_insecure_urls: bool = False
    email_configured: bool = False
    clock: Clock = utcnow_ms

    async def list_channels(self, principal: Principal) -> list[Channel]:
        """The organization's channels, oldest first (every role; no secrets)."""
        return await self.channels.list(organization_id=principal.organization_id)

    async def create_webhook(
        self, principal: Principal, *, name: str, url: str
    ) -> tuple[Channel, str]:
        """A signed JSON webhook (ADMIN); the channel and its signing secret (shown once)."""
        require_role(principal, Role.ADMIN)
        name = channel_name(name, field=["input", "name"])
        url, target = channel_url(
            url, field=["input", "url"], allow_insecure=self.allow_insecure_urls
        )
        signing_secret = new_signing_secret()
        channel = await self._create(
            principal, name, ChannelKind.WEBHOOK, target, (), ChannelSecret(url, signing_secret)
        )
        return channel, signing_secret

    async def create_slack(self, principal: Principal, *, name: str, webhook_url: str) -> Channel:
        """A Slack incoming webhook (ADMIN); its URL is stored encrypted, never shown."""
        require_role(principal, Role.ADMIN)
        name = channel_name(name, field=["input", "name"])
        url, target = channel_url(
            webhook_url,
            field=["input", "webhookUrl"],
            allow_insecure=self.allow_insecure_urls,
            slack=True,
        )
        return await self._create(
            principal, name, ChannelKind.SLACK, target, (), ChannelSecret(url=url)
        )

    async def create_email(self, principal: Principal, *, name: str, to: Sequence[str]) -> Channel:
        """Email to ``to`` through the server's SMTP settings (ADMIN)."""
        require_role(principal, Role.ADMIN)
        name = channel_name(name, field=["input", "name"])
        addresses = recipients(to, field=["input", "recipients"])
        if not self.email_configured:
            raise Conflict(
                "email is not configured on this server: set VIGIL_SMTP_HOST (and the other "
                "VIGIL_SMTP_ settings) first",
                code="NOT_CONFIGURED",
            )
        return await self._create(principal, name, ChannelKind.EMAIL, "", addresses, None)

    async def _create(
        self,
        principal: Principal,
        name: str,
        kind: ChannelKind,
        target: str,
        to: tuple[str, ...],
        secret: ChannelSecret | None,
    ) -> Channel:
        org = principal.organization_id
        if await self.channels.count(organization_id=org) >= MAX_CHANNELS:
            raise Conflict(
                f"an organization has at most {MAX_CHANNELS} alert channels: delete one first",
                code="TOO_MANY_CHANNELS",
            )
        channel = Channel(
            id=new_id("chn"),
            organization_id=org,
            name=name,
            kind=kind,
            enabled=True,
            target=target,
            recipients=to,
            created_at=self.clock(),
            created_by=principal.actor_id,
        )
        envelope = self.secrets.seal(org, channel.id, secret) if secret is not None else None
        try:
            return await self.channels.create(channel, envelope=envelope)
        except AlreadyExists:
            raise _name_taken(name) from None

    async def update(
        self,
        principal: Principal,
        channel_id: str,
        *,
        name: str | None = None,
        enabled: bool | None = None,
        to: Sequence[str] | None = None,
    ) -> Channel:
        """Rename, enable or disable a channel, or change an email channel's recipients
        (ADMIN)."""
        require_role(principal, Role.ADMIN)
        channel = await self._get(principal, channel_id, field=["input", "channelId"])
        if name is not None:
            name = channel_name(name, field=["input", "name"])
        addresses = None
        if to is not None:
            if channel.kind is not ChannelKind.EMAIL:
                raise Conflict(
                    "only an email channel has recipients",
                    field=["input", "recipients"],
                    code="NOT_EMAIL",
                )
            addresses = recipients(to, field=["input", "recipients"])
        try:
            updated = await self.channels.update(
                organization_id=principal.organization_id,
                channel_id=channel.id,
                changes=ChannelChanges(name, enabled, addresses),
            )
        except AlreadyExists:
            raise _name_taken(name or channel.name) from None
        if updated is None:
            raise _not_found(channel_id, field=["input", "channelId"])
        return updated

    async def rotate_secret(self, principal: Principal, channel_id: str) -> tuple[Channel, str]:
        """A new signing secret for a webhook channel (ADMIN; shown once, the old one stops
        signing at once)."""
        require_role(principal, Role.ADMIN)
        channel = await self._get(principal, channel_id)
        if channel.kind is not ChannelKind.WEBHOOK:
            raise Conflict(
                "only a webhook channel has a signing secret", field=["id"], code="NOT_WEBHOOK"
            )
        org = principal.organization_id
        current = await self.secrets.load(org, channel.id)
        signing_secret = new_signing_secret()
        envelope = self.secrets.seal(
            org, channel.id, ChannelSecret(url=current.url, signing_secret=signing_secret)
        )
        await self.channels.set_envelope(
            organization_id=org, channel_id=channel.id, envelope=envelope
        )
        return channel, signing_secret

    async def delete(self, principal: Principal, channel_id: str) -> str:
        """Remove a channel, its secrets and its pending deliveries (ADMIN); its sent
        deliveries and dead letters stay listed."""
        require_role(principal, Role.ADMIN)
        org = principal.organization_id
        if not await self.channels.delete(organization_id=org, channel_id=channel_id):
            raise _not_found(channel_id)
        await self.alert_deliveries.drop_pending(organization_id=org, channel_id=channel_id)
        return channel_id

    async def send_test(self, principal: Principal, channel_id: str) -> Delivery:
        """Queue a test alert to one channel (ADMIN); it is sent, retried and dead-lettered
        like any delivery."""
        require_role(principal, Role.ADMIN)
        channel = await self._get(principal, channel_id)
        if not channel.enabled:
            raise Conflict(
                "the channel is disabled: enable it first", field=["channelId"], code="DISABLED"
            )
        now = self.clock()
        delivery_id = new_id("dlv")
        alert = test_alert(channel, f"test:{delivery_id}", now)
        delivery = pending(channel, (alert,), delivery_id=delivery_id, now=now)
        await self.alert_deliveries.enqueue([delivery])
        self.wakeup.kick()
        return delivery

    async def deliveries(
        self,
        principal: Principal,
        *,
        state: DeliveryState | None,
        channel_id: str | None,
        first: int | None,
        after: str | None,
    ) -> Slice[Delivery]:
        """Deliveries newest first, optionally of one state (DEAD_LETTER: the dead letters)
        or one channel (every role)."""
        which = DeliveryFilter(principal.organization_id, state, channel_id)
        rows = partial(self.alert_deliveries.page, which)
        return await time_slice(rows, first, after, key=lambda d: (d.created_at, d.id))

    async def retry(self, principal: Principal, delivery_id: str) -> Delivery:
        """Queue a dead letter again, attempts from zero (ADMIN)."""
        require_role(principal, Role.ADMIN)
        org = principal.organization_id
        found = await self.alert_deliveries.get(organization_id=org, delivery_id=delivery_id)
        if found is None:
            raise NotFound(f"alert delivery {delivery_id} not found", field=["id"])
        if found.state is not DeliveryState.DEAD_LETTER:
            raise Conflict(
                f"alert delivery {delivery_id} is {found.state.value}, not a dead letter",
                field=["id"],
                code="NOT_DEAD_LETTER",
            )
        channel = await self.channels.get(organization_id=org, channel_id=found.channel_id)
        if channel is None:
            raise NotFound(
                f"the channel of alert delivery {delivery_id} was deleted",
                field=["id"],
                code="CHANNEL_DELETED",
            )
        retried = await self.alert_deliveries.retry(
            organization_id=org, delivery_id=delivery_id, now=self.clock()
        )
        if retried is None:  # retried by someone else meanwhile
            raise Conflict(
                f"alert delivery {delivery_id} is no longer a dead letter",
                field=["id"],
                code="NOT_DEAD_LETTER",
            )
        self.wakeup.kick()
        return retried

    async def _get(
        self, principal: Principal, channel_id: str, *, field: Sequence[str] = ("id",)
    ) -> Channel:
        found = await self.channels.get(
            organization_id=principal.organization_id, channel_id=channel_id
        )
        if found is None:
            raise _not_found(channel_id, field=field)
        return found


def _not_found(channel_id: str, *, field: Sequence[str] = ("id",)) -> NotFound:
    return NotFound(f"alert channel {channel_id} not found", field=field)


def _name_taken(name: str) -> Conflict:
    return Conflict(
        f"an alert channel named {name!r} already exists",
        field=["input", "name"],
        code="NAME_TAKEN",
    )
