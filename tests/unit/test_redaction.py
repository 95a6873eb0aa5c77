"""Secrets never reach a log line."""

from __future__ import annotations

import io
import json
import logging

import pytest

from api.logging import JsonFormatter, RedactingFilter
from services.redaction import SECRETS, redact


@pytest.mark.parametrize(
    "text",
    [
        "key vgl_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefg used",
        "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig",
        "Authorization: Basic dXNlckBleGFtcGxlLmNvbTp0b2tlbg==",
        '{"access_token": "at-123456789", "refresh_token": "rt-987654321"}',
        "client_secret=s3cr3tvalue&grant_type=refresh_token",
        "GET /oauth/confluence/callback?code=abcdef123456&state=xyz",
        "apiToken='ATATT3xFfGF0abcdef'",
    ],
)
def test_recognisable_secrets_are_masked(text: str) -> None:
    out = redact(text)
    assert "[REDACTED]" in out
    for secret in (
        "vgl_AbCd",
        "eyJhbGci",
        "dXNlckBl",
        "at-123456789",
        "rt-987654321",
        "s3cr3tvalue",
        "abcdef123456",
        "ATATT3xF",
    ):
        assert secret not in out


def test_registered_secret_values_are_masked_anywhere() -> None:
    SECRETS.add("plain-looking-token-value")
    assert redact("error: plain-looking-token-value rejected") == "error: [REDACTED] rejected"


def test_json_log_lines_are_redacted_including_exceptions() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        raise ValueError("bad token Bearer abcdefghijklmnop")
    except ValueError:
        logger.exception(
            "call failed for %s", "vgl_ZZZZZZZZZZZZZZZZZZZZ", extra={"request_id": "r1"}
        )
    line = json.loads(stream.getvalue())
    assert line["level"] == "ERROR" and line["request_id"] == "r1"
    assert "vgl_ZZZZ" not in stream.getvalue() and "abcdefghijklmnop" not in stream.getvalue()
    assert "ValueError" in line["exception"]
