"""The alert settings: an SMTP password never crosses the network in clear."""

from __future__ import annotations

import pytest

from api.settings import load_settings
from services.errors import ConfigurationError


def test_a_password_without_tls_is_refused_unless_the_relay_is_local() -> None:
    with pytest.raises(ConfigurationError) as refused:
        load_settings(smtp_host="smtp.example.com", smtp_security="none", smtp_password="pw-123456")
    assert str(refused.value).startswith("VIGIL_SMTP_PASSWORD:")
    assert "pw-123456" not in str(refused.value)
    local = load_settings(smtp_host="127.0.0.1", smtp_security="none", smtp_password="pw-123456")
    assert local.smtp_password is not None
    tls = load_settings(smtp_host="smtp.example.com", smtp_password="pw-123456")
    assert tls.smtp_security == "starttls" and tls.smtp_port == 587
    assert "pw-123456" not in repr(tls)
