"""What a delivery looks like on each channel, and the webhook signature (docs/alerts.md).

Pure functions: a webhook's JSON body and signed headers, a Slack message (``text`` plus
Block Kit ``blocks``), an email. Nothing here does I/O or reads the clock.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import Counter
from collections.abc import Sequence
from email.message import EmailMessage
from typing import Any

from services.alerts.models import Alert, AlertKind, Delivery

EVENT_TYPE = "vigil.alerts"
DELIVERY_HEADER = "Vigil-Delivery"
TIMESTAMP_HEADER = "Vigil-Timestamp"
SIGNATURE_HEADER = "Vigil-Signature"
SIGNATURE_VERSION = "v1"

# Slack's Block Kit limits (docs/alerts.md): a header's text 150 characters, a section's
# 3000, 50 blocks per message. A message lists at most this many alerts, then "and N more".
SLACK_LISTED = 20
_HEADER_MAX = 150
_SECTION_MAX = 3000
_SUBJECT_MAX = 200

_NOUNS = {
    AlertKind.CHECK_STATUS_CHANGED: ("check changed", "checks changed"),
    AlertKind.SYNC_FAILED: ("sync failed", "syncs failed"),
    AlertKind.REMEDIATION_FAILED: ("remediation failed", "remediations failed"),
    AlertKind.TEST: ("test", "tests"),
}


def webhook_body(delivery: Delivery) -> bytes:
    """The JSON body of a webhook delivery: the same bytes on every retry."""
    payload = {
        "type": EVENT_TYPE,
        "id": delivery.id,
        "organizationId": delivery.organization_id,
        "channelId": delivery.channel_id,
        "createdAt": delivery.created_at.isoformat(),
        "test": all(a.kind is AlertKind.TEST for a in delivery.alerts),
        "alerts": [a.to_json() for a in delivery.alerts],
    }
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """``v1=<hex>``: HMAC-SHA256 keyed with the signing secret over ``<timestamp>.<body>``."""
    message = str(timestamp).encode("ascii") + b"." + body
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def webhook_headers(delivery_id: str, secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers of a signed webhook request."""
    return {
        "Content-Type": "application/json",
        DELIVERY_HEADER: delivery_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }


def headline(alerts: Sequence[Alert]) -> str:
    """One line: the alert's summary, or how many alerts of which kinds."""
    if len(alerts) == 1:
        return alerts[0].summary
    counts = Counter(a.kind for a in alerts)
    parts = [
        f"{n} {_NOUNS[kind][0] if n == 1 else _NOUNS[kind][1]}"
        for kind, n in sorted(counts.items(), key=lambda kv: list(AlertKind).index(kv[0]))
    ]
    return f"{len(alerts)} alerts: " + ", ".join(parts)


def slack_message(delivery: Delivery) -> dict[str, Any]:
    """Slack's incoming-webhook message: ``text`` (the notification's fallback) and
    ``blocks`` (a header, one section per alert, a context line)."""
    alerts = delivery.alerts
    title = _clip(f"Vigil: {headline(alerts)}", _HEADER_MAX)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title}}
    ]
    for alert in alerts[:SLACK_LISTED]:
        text = f"*{_escape(alert.summary)}*"
        if alert.detail:
            text += f"\n{_escape(alert.detail)}"
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, _SECTION_MAX)}}
        )
    if len(alerts) > SLACK_LISTED:
        more = f"… and {len(alerts) - SLACK_LISTED} more (the webhook and email channels list all)"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": more}})
    context = f"Organization `{_escape(delivery.organization_id)}` · delivery `{delivery.id}`"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    return {"text": _escape(title), "blocks": blocks}


def email_message(delivery: Delivery, *, sender: str, recipients: Sequence[str]) -> EmailMessage:
    """A plain-text email listing every alert of the delivery."""
    alerts = delivery.alerts
    message = EmailMessage()
    message["Subject"] = _clip(f"[Vigil] {headline(alerts)}", _SUBJECT_MAX)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Message-ID"] = f"<{delivery.id}@vigil>"  # the same on every retry
    lines = [f"Vigil has {len(alerts)} alert(s) for organization {delivery.organization_id}.", ""]
    for alert in alerts:
        lines.append(f"- {alert.summary}")
        if alert.detail:
            lines.append(f"  {alert.detail}")
        lines.append(f"  ({alert.kind.value}, {alert.at.isoformat()}, id {alert.key})")
        lines.append("")
    lines.append(f"Delivery {delivery.id}.")
    message.set_content("\n".join(lines) + "\n")
    return message


def _escape(text: str) -> str:
    """Slack's three control characters, escaped as its message formatting asks."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
