"""Sending one delivery to its channel: a signed webhook, a Slack message, or an email.

The HTTP request itself goes through a ``Poster`` (``services/alerts/transport.py``, the one
module of this package that imports httpx) and email through a ``Mailer``
(``services/alerts/mail.py``). Every failure is a ``DeliveryFailed`` whose message names
what went wrong without the URL, a secret or the receiver's headers.
"""

from __future__ import annotations

import json
import math
from dataclasses import KW_ONLY, dataclass
from email.message import EmailMessage
from typing import Protocol

from services.alerts.messages import email_message, slack_message, webhook_body, webhook_headers
from services.alerts.models import Channel, ChannelKind, ChannelSecret, Delivery, DeliveryFailed
from services.clock import Clock, utcnow
from services.redaction import redact

_ANSWER_MAX = 200


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    """A receiver's answer: status, the start of its body, its ``Retry-After`` (seconds)."""

    status: int
    text: str = ""
    retry_after: float | None = None


class Poster(Protocol):
    """POSTs a body; raises ``DeliveryFailed`` when no answer came (connection, timeout)."""

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> HttpAnswer: ...


class Mailer(Protocol):
    """Sends an email through the configured SMTP server (``DeliveryFailed`` when it fails)."""

    @property
    def sender(self) -> str:
        """The ``From`` address."""
        ...

    async def send(self, message: EmailMessage) -> None: ...


@dataclass(eq=False, repr=False)
class ChannelSender:
    """Sends a delivery the way its channel's kind asks."""

    poster: Poster
    mailer: Mailer | None
    _: KW_ONLY
    clock: Clock = utcnow

    async def send(self, delivery: Delivery, channel: Channel, secret: ChannelSecret) -> None:
        """Deliver or raise ``DeliveryFailed``."""
        if channel.kind is ChannelKind.WEBHOOK:
            await self._webhook(delivery, secret)
        elif channel.kind is ChannelKind.SLACK:
            await self._slack(delivery, secret)
        else:
            await self._email(delivery, channel)

    async def _webhook(self, delivery: Delivery, secret: ChannelSecret) -> None:
        if not secret.url or not secret.signing_secret:
            raise DeliveryFailed("the channel has no stored URL or signing secret")
        body = webhook_body(delivery)
        timestamp = math.floor(self.clock().timestamp())
        headers = webhook_headers(delivery.id, secret.signing_secret, timestamp, body)
        answer = await self.poster.post(secret.url, body, headers)
        if not 200 <= answer.status < 300:
            raise DeliveryFailed(
                f"the receiver answered HTTP {answer.status}", retry_after=answer.retry_after
            )

    async def _slack(self, delivery: Delivery, secret: ChannelSecret) -> None:
        if not secret.url:
            raise DeliveryFailed("the channel has no stored Slack webhook URL")
        body = json.dumps(slack_message(delivery), ensure_ascii=False).encode("utf-8")
        answer = await self.poster.post(secret.url, body, {"Content-Type": "application/json"})
        if answer.status != 200:
            # Slack answers a short error string (``invalid_payload``, ``channel_not_found``,
            # ``channel_is_archived``, ...): safe to show, clipped and redacted all the same.
            said = redact(answer.text.strip())[:_ANSWER_MAX]
            raise DeliveryFailed(
                f"Slack answered HTTP {answer.status}" + (f": {said}" if said else ""),
                retry_after=answer.retry_after,
            )

    async def _email(self, delivery: Delivery, channel: Channel) -> None:
        if self.mailer is None:
            raise DeliveryFailed("email is not configured on this server (VIGIL_SMTP_HOST)")
        message = email_message(delivery, sender=self.mailer.sender, recipients=channel.recipients)
        await self.mailer.send(message)
