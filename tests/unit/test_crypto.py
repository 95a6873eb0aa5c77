"""Tests of credential encryption: envelopes, owner binding, rotation and redaction."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any

import pytest

from services.crypto import (
    CredentialDecryptError,
    CredentialEnvelope,
    KeyConfigError,
    KeyRing,
    generate_key,
    key_id,
    keyring_from_settings,
    parse_key,
    parse_keys,
)

SECRET: dict[str, Any] = {
    "access_token": "at-SUPERSECRET-1",
    "refresh_token": "rt-SUPERSECRET-2",
    "expires_at": 1_700_000_000,
    "scopes": ["offline_access", "read:confluence-user"],
}
PLAINTEXT_MARKERS = ("SUPERSECRET",)
OWNER = {"org_id": "org-1", "integration_id": "int-1", "label": "oauth_tokens"}

KEY_A = bytes(range(32))
KEY_B = bytes(range(32, 64))
KEY_C = bytes(range(64, 96))


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def assert_no_leak(exc: BaseException, *keys: bytes) -> None:
    """No plaintext or key material in the message, repr or chained exceptions."""
    texts = [str(exc), repr(exc)]
    assert exc.__cause__ is None
    if exc.__context__ is not None:
        assert exc.__suppress_context__
        texts += [str(exc.__context__), repr(exc.__context__)]
    blob = "\n".join(texts)
    for marker in PLAINTEXT_MARKERS:
        assert marker not in blob
    for key in filter(None, keys):
        for form in (b64(key), base64.urlsafe_b64encode(key).decode(), key.hex(), repr(key)):
            assert form not in blob


def tamper_b64(value: str, index: int = 0) -> str:
    raw = bytearray(base64.b64decode(value))
    raw[index] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


# --- envelope and roundtrip ---------------------------------------------------------------


def test_roundtrip_produces_plain_json_envelope() -> None:
    ring = KeyRing(KEY_A)
    env = ring.encrypt(SECRET, **OWNER)

    assert set(env) == {"v", "kid", "nonce", "ct"}
    assert env["v"] == 1
    assert env["kid"] == hashlib.sha256(KEY_A).digest()[:8].hex() == ring.current_kid
    assert re.fullmatch(r"[0-9a-f]{16}", env["kid"])
    assert len(base64.b64decode(env["nonce"])) == 12
    assert json.loads(json.dumps(env)) == env  # a plain, storable dict
    assert "SUPERSECRET" not in json.dumps(env)

    secret, needs_rotation = ring.decrypt(env, **OWNER)
    assert secret == SECRET
    assert needs_rotation is False
    assert ring.needs_reencrypt(env) is False


def test_fresh_nonce_per_encryption() -> None:
    ring = KeyRing(KEY_A)
    envs = [ring.encrypt(SECRET, **OWNER) for _ in range(50)]
    assert len({e["nonce"] for e in envs}) == 50
    assert len({e["ct"] for e in envs}) == 50


def test_non_json_secret_is_refused_without_echoing_it() -> None:
    ring = KeyRing(KEY_A)
    with pytest.raises(TypeError, match="JSON-serializable") as info:
        ring.encrypt({"token": b"SUPERSECRET"}, **OWNER)
    assert_no_leak(info.value)


@pytest.mark.parametrize("field", ["org_id", "integration_id", "label"])
def test_empty_owner_fields_are_refused(field: str) -> None:
    ring = KeyRing(KEY_A)
    with pytest.raises(ValueError, match=field):
        ring.encrypt(SECRET, **{**OWNER, field: ""})


# --- tampering --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda e: {**e, "ct": tamper_b64(e["ct"], 0)}, id="ct-first-byte"),
        pytest.param(lambda e: {**e, "ct": tamper_b64(e["ct"], -1)}, id="ct-tag"),
        pytest.param(lambda e: {**e, "nonce": tamper_b64(e["nonce"], 5)}, id="nonce"),
        pytest.param(lambda e: {**e, "ct": base64.b64encode(b"x" * 8).decode()}, id="ct-short"),
        pytest.param(
            lambda e: {**e, "nonce": base64.b64encode(b"x" * 16).decode()}, id="nonce-len"
        ),
        pytest.param(lambda e: {**e, "ct": "not base64!"}, id="ct-not-b64"),
        pytest.param(lambda e: {**e, "nonce": None}, id="nonce-missing"),
        pytest.param(lambda e: {k: v for k, v in e.items() if k != "ct"}, id="ct-missing"),
        pytest.param(lambda e: {**e, "v": 2}, id="version"),
        pytest.param(lambda e: {**e, "v": True}, id="version-bool"),
        pytest.param(lambda e: {**e, "kid": "not-a-kid"}, id="kid-garbage"),
        pytest.param(lambda e: "not a mapping", id="not-mapping"),
    ],
)
def test_tampered_envelope_fails(mutate: Any) -> None:
    ring = KeyRing(KEY_A)
    env = ring.encrypt(SECRET, **OWNER)
    with pytest.raises(CredentialDecryptError) as info:
        ring.decrypt(mutate(dict(env)), **OWNER)
    assert_no_leak(info.value, KEY_A)


def test_kid_swapped_to_another_known_key_fails() -> None:
    ring = KeyRing(KEY_A, [KEY_B])
    env = ring.encrypt(SECRET, **OWNER)
    forged: CredentialEnvelope = {**env, "kid": key_id(KEY_B)}
    with pytest.raises(CredentialDecryptError, match="failed authentication") as info:
        ring.decrypt(forged, **OWNER)
    assert_no_leak(info.value, KEY_A, KEY_B)


# --- owner binding (AAD) ------------------------------------------------------------------


@pytest.mark.parametrize(
    "other",
    [
        {"org_id": "org-2"},
        {"integration_id": "int-2"},
        {"label": "client_secret"},
        # Adjacent fields must not be confusable by concatenation.
        {"org_id": "org-1i", "integration_id": "nt-1"},
    ],
    ids=["other-org", "other-integration", "other-label", "field-shift"],
)
def test_envelope_copied_to_another_owner_fails(other: dict[str, str]) -> None:
    ring = KeyRing(KEY_A)
    env = ring.encrypt(SECRET, **OWNER)
    with pytest.raises(CredentialDecryptError, match="another organization") as info:
        ring.decrypt(env, **{**OWNER, **other})
    assert_no_leak(info.value, KEY_A)


def test_unknown_kid_error_names_only_the_kid() -> None:
    env = KeyRing(KEY_A).encrypt(SECRET, **OWNER)
    with pytest.raises(CredentialDecryptError) as info:
        KeyRing(KEY_B).decrypt(env, **OWNER)
    assert str(info.value) == f"no configured key has id {key_id(KEY_A)!r}"
    assert_no_leak(info.value, KEY_A, KEY_B)


# --- rotation -----------------------------------------------------------------------------


def test_rotation_decrypts_old_and_flags_it() -> None:
    old_env = KeyRing(KEY_A).encrypt(SECRET, **OWNER)
    ring = KeyRing(KEY_B, [KEY_C, KEY_A])

    assert ring.needs_reencrypt(old_env) is True
    secret, needs_rotation = ring.decrypt(old_env, **OWNER)
    assert secret == SECRET
    assert needs_rotation is True

    new_env = ring.encrypt(secret, **OWNER)
    assert new_env["kid"] == key_id(KEY_B) == ring.current_kid
    assert ring.decrypt(new_env, **OWNER) == (SECRET, False)
    assert ring.needs_reencrypt(new_env) is False


def test_reencrypt_moves_to_current_key_and_keeps_binding() -> None:
    old_env = KeyRing(KEY_A).encrypt(SECRET, **OWNER)
    ring = KeyRing(KEY_B, [KEY_A])
    new_env = ring.reencrypt(old_env, **OWNER)
    assert new_env["kid"] == key_id(KEY_B)
    assert KeyRing(KEY_B).decrypt(new_env, **OWNER) == (SECRET, False)
    with pytest.raises(CredentialDecryptError):
        ring.decrypt(new_env, **{**OWNER, "org_id": "org-2"})


def test_reencrypt_refuses_misbound_envelope() -> None:
    old_env = KeyRing(KEY_A).encrypt(SECRET, **OWNER)
    with pytest.raises(CredentialDecryptError):
        KeyRing(KEY_B, [KEY_A]).reencrypt(old_env, **{**OWNER, "integration_id": "int-2"})


def test_key_dropped_from_ring_is_unknown() -> None:
    env = KeyRing(KEY_A).encrypt(SECRET, **OWNER)
    ring = KeyRing(KEY_B, [KEY_C])
    with pytest.raises(CredentialDecryptError, match=key_id(KEY_A)):
        ring.decrypt(env, **OWNER)


def test_ring_kids_current_first_and_deduplicated() -> None:
    ring = KeyRing(KEY_A, [KEY_B, KEY_A, KEY_B])
    assert ring.kids == (key_id(KEY_A), key_id(KEY_B))


# --- key parsing --------------------------------------------------------------------------


def test_generate_key_parses_to_32_random_bytes() -> None:
    k1, k2 = generate_key(), generate_key()
    assert k1 != k2
    assert len(parse_key(k1)) == 32


def test_parse_key_accepts_standard_urlsafe_unpadded_and_whitespace() -> None:
    key = bytes([0xFB, 0xFF] * 16)  # encodes with '+' and '/' characters
    assert parse_key(b64(key)) == key
    assert parse_key(base64.urlsafe_b64encode(key).decode()) == key
    assert parse_key(b64(key).rstrip("=") + "\n") == key


@pytest.mark.parametrize("length", [0, 1, 16, 24, 31, 33, 64])
def test_parse_key_rejects_wrong_lengths_without_echoing(length: int) -> None:
    key = bytes([7]) * length
    with pytest.raises(KeyConfigError, match="exactly 32 bytes") as info:
        parse_key(b64(key))
    assert f"decodes to {length}" in str(info.value)
    assert_no_leak(info.value, key)


def test_parse_key_rejects_non_base64_without_echoing() -> None:
    bad = "SUPERSECRET-not*base64*at-all!!"
    with pytest.raises(KeyConfigError, match="VIGIL_SECRET_KEY is not valid base64") as info:
        parse_key(bad)
    assert bad not in str(info.value)
    assert_no_leak(info.value)


def test_parse_keys_names_the_bad_entry() -> None:
    assert parse_keys(None) == []
    assert parse_keys(f" {b64(KEY_A)} ,, {b64(KEY_B)} ") == [KEY_A, KEY_B]
    with pytest.raises(KeyConfigError, match=r"VIGIL_SECRET_KEYS_OLD\[1\]") as info:
        parse_keys(f"{b64(KEY_A)},{b64(KEY_B[:16])}")
    assert_no_leak(info.value, KEY_A, KEY_B, KEY_B[:16])


@pytest.mark.parametrize("key", [b"", b"short", KEY_A + b"x"])
def test_keyring_rejects_bad_key_lengths(key: bytes) -> None:
    with pytest.raises(KeyConfigError, match="exactly 32 bytes") as info:
        KeyRing(key)
    assert_no_leak(info.value, key)
    with pytest.raises(KeyConfigError, match=r"old key \[0\]"):
        KeyRing(KEY_A, [key])


# --- redaction ----------------------------------------------------------------------------


def test_keyring_repr_is_redacted() -> None:
    ring = KeyRing(KEY_A, [KEY_B])
    for text in (repr(ring), str(ring), f"{ring}", f"{ring!r}"):
        assert text == f"KeyRing(current_kid={key_id(KEY_A)!r}, old_kids=[{key_id(KEY_B)!r}])"
        for key in (KEY_A, KEY_B):
            assert b64(key) not in text
            assert key.hex() not in text
    assert not hasattr(ring, "__dict__")  # no stray attribute can hold raw keys


def test_decrypt_errors_never_contain_plaintext() -> None:
    ring = KeyRing(KEY_A)
    env = ring.encrypt({"api_token": "SUPERSECRET"}, **OWNER)
    with pytest.raises(CredentialDecryptError) as info:
        ring.decrypt(env, **{**OWNER, "label": "api_token_v2"})
    assert_no_leak(info.value, KEY_A)


# --- settings -----------------------------------------------------------------------------


def test_settings_with_key_and_old_keys() -> None:
    ring, warning = keyring_from_settings(
        b64(KEY_B), f"{b64(KEY_A)},{b64(KEY_C)}", development=False
    )
    assert warning is None
    assert ring.current_kid == key_id(KEY_B)
    assert ring.kids == (key_id(KEY_B), key_id(KEY_A), key_id(KEY_C))


@pytest.mark.parametrize("secret_key", [None, "", "  "])
def test_settings_production_without_key_refuses_to_start(secret_key: str | None) -> None:
    with pytest.raises(KeyConfigError, match="VIGIL_SECRET_KEY is required outside development"):
        keyring_from_settings(secret_key, None, development=False)


@pytest.mark.parametrize("secret_key", [None, ""])
def test_settings_development_without_key_uses_ephemeral_key(secret_key: str | None) -> None:
    ring, warning = keyring_from_settings(secret_key, None, development=True)
    assert warning is not None
    assert "restart" in warning and "VIGIL_SECRET_KEY" in warning
    env = ring.encrypt(SECRET, **OWNER)
    assert ring.decrypt(env, **OWNER) == (SECRET, False)
    other, _ = keyring_from_settings(secret_key, None, development=True)
    assert other.current_kid != ring.current_kid  # ephemeral: a new key per process


def test_settings_development_without_key_keeps_old_keys_for_reading() -> None:
    env = KeyRing(KEY_A).encrypt(SECRET, **OWNER)
    ring, _ = keyring_from_settings(None, b64(KEY_A), development=True)
    assert ring.decrypt(env, **OWNER) == (SECRET, True)


@pytest.mark.parametrize("development", [True, False])
def test_settings_bad_key_is_a_config_error_without_echo(development: bool) -> None:
    short = b64(KEY_A[:20])
    with pytest.raises(KeyConfigError, match="VIGIL_SECRET_KEY must be base64") as info:
        keyring_from_settings(short, None, development=development)
    assert short not in str(info.value)
    with pytest.raises(KeyConfigError, match="VIGIL_SECRET_KEYS_OLD"):
        keyring_from_settings(b64(KEY_A), "garbage!", development=development)
