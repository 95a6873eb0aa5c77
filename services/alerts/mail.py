"""Email through the configured SMTP server, with the standard library's ``smtplib`` in a
worker thread (the event loop keeps serving meanwhile).

``security`` is ``starttls`` (connect in clear, then ``STARTTLS``; port 587), ``tls`` (TLS
from the first byte; port 465) or ``none`` (tests, a local relay). Certificates are verified
with the system's trust store. The password is never part of an error or a log line.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Literal

from services.alerts.models import DeliveryFailed
from services.redaction import SECRETS, redact

Security = Literal["starttls", "tls", "none"]
_ANSWER_MAX = 200


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    """Where and how to send email (from settings)."""

    host: str
    port: int
    security: Security
    sender: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 10.0


class SmtpMailer:
    """``Mailer`` over ``smtplib``."""

    def __init__(self, config: SmtpConfig) -> None:
        self._config = config
        SECRETS.add(config.password)

    @property
    def sender(self) -> str:
        """The ``From`` address."""
        return self._config.sender

    async def send(self, message: EmailMessage) -> None:
        """Send ``message``; ``DeliveryFailed`` saying what the server answered."""
        await asyncio.to_thread(self._send, message)

    def _send(self, message: EmailMessage) -> None:
        c = self._config
        try:
            if c.security == "tls":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    c.host, c.port, timeout=c.timeout, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(c.host, c.port, timeout=c.timeout)
            with smtp:
                if c.security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                if c.username:
                    smtp.login(c.username, c.password or "")
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            refused = ", ".join(sorted(exc.recipients))
            raise DeliveryFailed(f"the SMTP server refused the recipients: {refused}") from None
        except smtplib.SMTPResponseException as exc:
            said = exc.smtp_error
            text = said.decode("utf-8", "replace") if isinstance(said, bytes) else str(said)
            raise DeliveryFailed(
                f"the SMTP server answered {exc.smtp_code}: {redact(text)[:_ANSWER_MAX]}"
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryFailed(
                f"could not send through the SMTP server ({type(exc).__name__})"
            ) from None
