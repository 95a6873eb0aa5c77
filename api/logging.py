"""Structured logging (JSON lines in production) with secret redaction on every record."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from services.redaction import redact

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


def _is_wire_dump(record: logging.LogRecord) -> bool:
    """The ``websockets`` library's frame and handshake dumps (``< TEXT '...'``) at DEBUG.

    uvicorn hands its ``uvicorn.error`` logger to ``websockets``, which then logs every frame
    (truncated, so a key's tail escapes pattern redaction) and every handshake header.
    """
    return (
        record.levelno <= logging.DEBUG
        and record.name.startswith(("uvicorn", "websockets"))
        and isinstance(record.msg, str)
        and record.msg.startswith(("< ", "> "))
    )


class RedactingFilter(logging.Filter):
    """Render each record's message once, scrubbed of secrets; drop WebSocket wire dumps."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Replace the message (and exception text) with a redacted rendering."""
        if _is_wire_dump(record):
            return False
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, redact(value))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, extras."""

    def format(self, record: logging.LogRecord) -> str:
        """Serialise the record."""
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                payload[key] = value if isinstance(value, int | float | bool) else str(value)
        if record.exc_text:
            payload["exception"] = record.exc_text
        return json.dumps(payload, default=str)


def configure_logging(level: str = "INFO", *, json_lines: bool = True) -> None:
    """Route every logger through one redacting handler on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers = []
        lg.propagate = True
