"""Channel inputs (names, URLs, recipients) and channel secrets at rest.

A webhook's URL and signing secret and a Slack webhook's URL are secrets: they are encrypted
with the credential key ring (``services/crypto.py``, AES-256-GCM, bound to the organization,
the channel and the label ``alert_channel``), taught to the log redactor when handled, and
never returned: the API shows a webhook's ``scheme://host[:port]`` and Slack's host only.

URLs must be ``https``; without ``VIGIL_ALLOW_INSECURE_URLS`` (tests, the simulator) a URL
naming ``localhost`` or a loopback, private or link-local address is refused, and a Slack
URL must be Slack's incoming-webhook host.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from collections.abc import Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import urlsplit

from services.alerts.models import ChannelSecret
from services.crypto import KeyRing
from services.errors import ValidationFailed
from services.redaction import SECRETS

LABEL = "alert_channel"
MAX_NAME = 100
MAX_URL = 2000
MAX_RECIPIENTS = 20
MAX_EMAIL = 254
SLACK_HOSTS = frozenset({"hooks.slack.com", "hooks.slack-gov.com"})
SECRET_PREFIX = "whsec_"
_EMAIL = re.compile(r"^[^@\s,;<>\"']+@[^@\s,;<>\"']+\.[^@\s,;<>\"']+$")


def channel_name(value: str, *, field: Sequence[str]) -> str:
    """A trimmed, non-empty name of at most 100 printable characters."""
    name = value.strip()
    if not name:
        raise ValidationFailed("give the channel a name", field=field)
    if len(name) > MAX_NAME or any(not c.isprintable() for c in name):
        raise ValidationFailed(
            f"a channel name is at most {MAX_NAME} printable characters", field=field
        )
    return name


def channel_url(
    value: str, *, field: Sequence[str], allow_insecure: bool, slack: bool = False
) -> tuple[str, str]:
    """``(url, target)``: the URL to post to, and the part of it that may be shown."""
    raw = value.strip()
    what = "a Slack incoming webhook URL" if slack else "a webhook URL"
    if not raw or len(raw) > MAX_URL or any(c.isspace() or not c.isprintable() for c in raw):
        raise ValidationFailed(f"enter {what} (https://…)", field=field)
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        raise ValidationFailed(f"not a valid URL: enter {what} (https://…)", field=field) from None
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        raise ValidationFailed(f"enter {what} (https://…)", field=field)
    if parts.username is not None or parts.password is not None:
        raise ValidationFailed("a URL with a user name or password is not accepted", field=field)
    if not allow_insecure:
        if parts.scheme != "https":
            raise ValidationFailed(f"{what} must use https://", field=field)
        if _internal(host):
            raise ValidationFailed(
                f"{what} must not point at localhost or a private network address", field=field
            )
        if slack and host not in SLACK_HOSTS:
            raise ValidationFailed(
                "a Slack incoming webhook URL starts with https://hooks.slack.com/", field=field
            )
    shown_host = f"[{host}]" if ":" in host else host
    target = f"{parts.scheme}://{shown_host}" + (f":{port}" if port is not None else "")
    return raw.split("#", 1)[0], target


def recipients(values: Sequence[str], *, field: Sequence[str]) -> tuple[str, ...]:
    """1 to 20 distinct email addresses, trimmed (order kept)."""
    found: list[str] = []
    for index, value in enumerate(values):
        address = value.strip()
        if len(address) > MAX_EMAIL or not _EMAIL.match(address):
            raise ValidationFailed(f"{value!r} is not an email address", field=[*field, str(index)])
        if address.lower() not in (f.lower() for f in found):
            found.append(address)
    if not found:
        raise ValidationFailed("give at least one recipient address", field=field)
    if len(found) > MAX_RECIPIENTS:
        raise ValidationFailed(f"at most {MAX_RECIPIENTS} recipients", field=field)
    return tuple(found)


def new_signing_secret() -> str:
    """A webhook signing secret: ``whsec_`` and 256 random bits."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _internal(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_reserved
        or address.is_unspecified
        or address.is_multicast
    )


class EnvelopeRepo(Protocol):
    """The ``AlertChannelRepository`` methods ``ChannelSecrets`` calls."""

    async def envelope(
        self, *, organization_id: str, channel_id: str
    ) -> Mapping[str, Any] | None: ...
    async def set_envelope(
        self, *, organization_id: str, channel_id: str, envelope: Mapping[str, Any]
    ) -> bool: ...


class ChannelSecrets:
    """Encrypts and decrypts channel secrets with the credential key ring."""

    def __init__(self, channels: EnvelopeRepo, keyring: KeyRing) -> None:
        self._channels = channels
        self._keyring = keyring

    def seal(self, organization_id: str, channel_id: str, secret: ChannelSecret) -> dict[str, Any]:
        """The encrypted envelope of ``secret`` (stored in the channel's document)."""
        remember(secret)
        return dict(
            self._keyring.encrypt(
                secret.to_json(), org_id=organization_id, integration_id=channel_id, label=LABEL
            )
        )

    async def load(self, organization_id: str, channel_id: str) -> ChannelSecret:
        """The channel's secrets (empty for email); re-encrypted under the current key when
        they were under an old one."""
        envelope = await self._channels.envelope(
            organization_id=organization_id, channel_id=channel_id
        )
        if not envelope:
            return ChannelSecret()
        owner = {"org_id": organization_id, "integration_id": channel_id, "label": LABEL}
        values, needs_rotation = self._keyring.decrypt(envelope, **owner)
        secret = ChannelSecret.from_json(values)
        remember(secret)
        if needs_rotation:
            await self._channels.set_envelope(
                organization_id=organization_id,
                channel_id=channel_id,
                envelope=dict(self._keyring.encrypt(values, **owner)),
            )
        return secret


def remember(secret: ChannelSecret) -> None:
    """Teach the log redactor a channel's secrets: the signing secret, the URL, and its path
    and query on their own (a Slack URL's secret is its path; httpx logs each request's URL,
    possibly normalised)."""
    SECRETS.add(secret.signing_secret)
    if secret.url:
        SECRETS.add(secret.url)
        parts = urlsplit(secret.url)
        SECRETS.add(parts.path)
        SECRETS.add(parts.query)
