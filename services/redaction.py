"""Scrubbing secrets out of text before it reaches a log line or an error message."""

from __future__ import annotations

import re
import threading

_PATTERNS = (
    # Vigil API keys.
    re.compile(r"vgl_[A-Za-z0-9_\-]{8,}"),
    # Authorization header values.
    re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]{8,}"),
    # key=value / "key": "value" pairs whose key names a secret.
    re.compile(
        r"""(?ix)
        (["']?(?:access_token|refresh_token|client_secret|api_?token|api_?key|password
              |secret|authorization|code)["']?\s*[:=]\s*)
        (["']?)[^"'\s,&}]{4,}(\2)
        """
    ),
)
_MASK = "[REDACTED]"


class SecretRegistry:
    """Known secret values (credentials in use) that must never be printed verbatim."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()

    def add(self, value: str | None) -> None:
        """Remember a secret so every later redaction removes it (short values ignored)."""
        if value and len(value) >= 8:
            with self._lock:
                self._values.add(value)

    def values(self) -> frozenset[str]:
        """A snapshot of the remembered secrets."""
        with self._lock:
            return frozenset(self._values)


SECRETS = SecretRegistry()


def redact(text: str) -> str:
    """``text`` with every recognisable or registered secret replaced by a mask."""
    for value in SECRETS.values():
        if value in text:
            text = text.replace(value, _MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(_replacement, text)
    return text


def _replacement(match: re.Match[str]) -> str:
    if match.re.groups >= 3:
        return f"{match.group(1)}{match.group(2)}{_MASK}{match.group(3)}"
    if match.re.groups == 1:
        return f"{match.group(1)} {_MASK}"
    return _MASK
