"""Credential encryption at rest: AES-256-GCM envelopes bound to their owner, with key rotation.

A credential (a JSON-able dict of secret material) is stored as a plain dict envelope::

    {"v": 1, "kid": "<16 hex chars>", "nonce": "<base64, 12 bytes>", "ct": "<base64>"}

- ``v``: envelope format version (1).
- ``kid``: key id, the first 8 bytes of SHA-256 of the 32-byte key, in hex. It selects the
  key on decryption; it reveals nothing usable about the key.
- ``nonce``: a fresh random 96-bit nonce per encryption.
- ``ct``: AES-GCM ciphertext of the canonical JSON of the secret, followed by the 16-byte tag.

The associated data (authenticated, not stored) is the canonical JSON array
``["vigil.credential", v, kid, org_id, integration_id, label]``, so a ciphertext copied to
another organization, integration or field (label, e.g. ``"oauth_tokens"``), or with an
edited header, fails authentication with :class:`CredentialDecryptError`.

Rotation: :class:`KeyRing` holds the current key (used for every encryption) and old keys
(decryption only). Decrypting under an old key reports ``needs_rotation=True``; the caller
re-encrypts and stores the new envelope. No message or repr ever contains key material or
plaintext.

Short-lived signed values (evidence download links) are MACed with a subkey derived from the
same keys (HMAC-SHA256 of a fixed label under the key: never the encryption key itself),
per purpose: ``mac(purpose, data)`` / ``verify_mac(purpose, data, tag)``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, TypedDict

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.errors import ConfigurationError, VigilError

ENVELOPE_VERSION = 1
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
_AAD_DOMAIN = "vigil.credential"
_KID_RE = re.compile(r"[0-9a-f]{16}")
_MAC_DERIVATION = b"vigil.mac.v1"


def _mac(subkey: bytes, purpose: str, data: bytes) -> bytes:
    return hmac.new(subkey, purpose.encode() + b"\0" + data, hashlib.sha256).digest()


class CryptoError(VigilError):
    """Base class of credential-encryption errors."""


class KeyConfigError(CryptoError, ConfigurationError):
    """The configured secret key(s) are missing or invalid; the app must not start."""


class CredentialDecryptError(CryptoError):
    """A stored credential cannot be decrypted (malformed, tampered, misbound or unknown key)."""


class CredentialEnvelope(TypedDict):
    """The stored form of an encrypted credential (a plain dict)."""

    v: int
    kid: str
    nonce: str
    ct: str


class Decrypted(NamedTuple):
    """A decrypted secret and whether it should be re-encrypted under the current key."""

    secret: dict[str, Any]
    needs_rotation: bool


def generate_key() -> str:
    """Return a new random 32-byte key, base64-encoded (a value for VIGIL_SECRET_KEY)."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def parse_key(b64: str, *, name: str = "VIGIL_SECRET_KEY") -> bytes:
    """Decode a base64 (standard or URL-safe) key that must be exactly 32 bytes."""
    text = b64.strip().replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise KeyConfigError(f"{name} is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise KeyConfigError(
            f"{name} must be base64 of exactly {KEY_BYTES} bytes (it decodes to {len(key)})"
        )
    return key


def parse_keys(csv: str | None, *, name: str = "VIGIL_SECRET_KEYS_OLD") -> list[bytes]:
    """Parse a comma-separated list of base64 keys; blank entries are ignored."""
    parts = [p.strip() for p in (csv or "").split(",")]
    return [parse_key(p, name=f"{name}[{i}]") for i, p in enumerate(parts) if p]


def key_id(key: bytes) -> str:
    """Return the key id: the first 8 bytes of SHA-256 of the key, in hex."""
    return hashlib.sha256(key).digest()[:8].hex()


def _aad(kid: str, org_id: str, integration_id: str, label: str) -> bytes:
    for field, value in (("org_id", org_id), ("integration_id", integration_id), ("label", label)):
        if not isinstance(value, str) or not value:
            raise ValueError(f"{field} must be a non-empty string")
    parts = [_AAD_DOMAIN, ENVELOPE_VERSION, kid, org_id, integration_id, label]
    return json.dumps(parts, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def _b64field(envelope: Mapping[str, object], field: str) -> bytes:
    value = envelope.get(field)
    if not isinstance(value, str):
        raise CredentialDecryptError(f"malformed credential envelope: '{field}' missing")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise CredentialDecryptError(f"malformed credential envelope: bad '{field}'") from None


def _kid_of(envelope: Mapping[str, object]) -> str:
    if not isinstance(envelope, Mapping):
        raise CredentialDecryptError("malformed credential envelope: not a mapping")
    version = envelope.get("v")
    if type(version) is not int or version != ENVELOPE_VERSION:
        raise CredentialDecryptError("unsupported credential envelope version")
    kid = envelope.get("kid")
    if not isinstance(kid, str) or not _KID_RE.fullmatch(kid):
        raise CredentialDecryptError("malformed credential envelope: bad 'kid'")
    return kid


class KeyRing:
    """The current encryption key plus old keys kept for decryption during rotation."""

    __slots__ = ("_ciphers", "_current_kid", "_macs")

    def __init__(self, current: bytes, old: Sequence[bytes] = ()) -> None:
        self._ciphers: dict[str, AESGCM] = {}
        self._macs: dict[str, bytes] = {}  # derived MAC subkeys, by key id
        self._current_kid = self._add(current, "current key")
        for i, key in enumerate(old):
            self._add(key, f"old key [{i}]")

    def _add(self, key: bytes, what: str) -> str:
        if not isinstance(key, bytes) or len(key) != KEY_BYTES:
            raise KeyConfigError(f"{what} must be exactly {KEY_BYTES} bytes")
        kid = key_id(key)
        # Keep only the cipher object and a derived MAC subkey, never the raw key bytes.
        self._ciphers.setdefault(kid, AESGCM(key))
        self._macs.setdefault(kid, hmac.new(key, _MAC_DERIVATION, hashlib.sha256).digest())
        return kid

    def mac(self, purpose: str, data: bytes) -> str:
        """``<kid>.<base64url HMAC-SHA256>`` of ``data`` for ``purpose``, under the current
        key's MAC subkey."""
        tag = _mac(self._macs[self._current_kid], purpose, data)
        return f"{self._current_kid}.{base64.urlsafe_b64encode(tag).decode().rstrip('=')}"

    def verify_mac(self, purpose: str, data: bytes, tag: str) -> bool:
        """Whether ``tag`` (from ``mac``, under any key of the ring) is ``data``'s for
        ``purpose``."""
        kid, _, encoded = tag.partition(".")
        subkey = self._macs.get(kid)
        if subkey is None or not encoded:
            return False
        try:
            given = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        except (binascii.Error, ValueError):
            return False
        return hmac.compare_digest(given, _mac(subkey, purpose, data))

    @property
    def current_kid(self) -> str:
        """Key id used for new encryptions."""
        return self._current_kid

    @property
    def kids(self) -> tuple[str, ...]:
        """All key ids this ring can decrypt, current first."""
        return tuple(self._ciphers)

    def __repr__(self) -> str:
        old = [k for k in self._ciphers if k != self._current_kid]
        return f"KeyRing(current_kid={self._current_kid!r}, old_kids={old!r})"

    __str__ = __repr__

    def encrypt(
        self, secret: Mapping[str, Any], *, org_id: str, integration_id: str, label: str
    ) -> CredentialEnvelope:
        """Encrypt a JSON-able dict under the current key, bound to its owner and label."""
        aad = _aad(self._current_kid, org_id, integration_id, label)
        if not isinstance(secret, Mapping):
            raise TypeError("secret must be a mapping")
        try:
            plaintext = json.dumps(
                dict(secret), sort_keys=True, separators=(",", ":"), allow_nan=False
            ).encode("utf-8")
        except (TypeError, ValueError):
            raise TypeError("secret must be JSON-serializable") from None
        nonce = os.urandom(NONCE_BYTES)
        ct = self._ciphers[self._current_kid].encrypt(nonce, plaintext, aad)
        return {
            "v": ENVELOPE_VERSION,
            "kid": self._current_kid,
            "nonce": base64.b64encode(nonce).decode("ascii"),
            "ct": base64.b64encode(ct).decode("ascii"),
        }

    def decrypt(
        self, envelope: Mapping[str, object], *, org_id: str, integration_id: str, label: str
    ) -> Decrypted:
        """Decrypt an envelope bound to this owner and label; flag it if under an old key."""
        kid = _kid_of(envelope)
        aad = _aad(kid, org_id, integration_id, label)
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise CredentialDecryptError(f"no configured key has id {kid!r}")
        nonce = _b64field(envelope, "nonce")
        ct = _b64field(envelope, "ct")
        if len(nonce) != NONCE_BYTES or len(ct) < TAG_BYTES:
            raise CredentialDecryptError("malformed credential envelope: bad lengths")
        try:
            plaintext = cipher.decrypt(nonce, ct, aad)
        except InvalidTag:
            raise CredentialDecryptError(
                "credential failed authentication: tampered, or bound to another "
                "organization, integration or label"
            ) from None
        try:
            secret = json.loads(plaintext)
        except ValueError:
            secret = None
        if not isinstance(secret, dict):
            raise CredentialDecryptError("decrypted credential is not a JSON object")
        return Decrypted(secret, kid != self._current_kid)

    def needs_reencrypt(self, envelope: Mapping[str, object]) -> bool:
        """Tell, without decrypting, whether an envelope is not under the current key."""
        return _kid_of(envelope) != self._current_kid

    def reencrypt(
        self, envelope: Mapping[str, object], *, org_id: str, integration_id: str, label: str
    ) -> CredentialEnvelope:
        """Decrypt an envelope (any known key) and encrypt it again under the current key."""
        secret, _ = self.decrypt(
            envelope, org_id=org_id, integration_id=integration_id, label=label
        )
        return self.encrypt(secret, org_id=org_id, integration_id=integration_id, label=label)


def keyring_from_settings(
    secret_key: str | None, old_keys: str | None, *, development: bool
) -> tuple[KeyRing, str | None]:
    """Build the KeyRing from settings; return it and a warning to log, if any."""
    old = parse_keys(old_keys)
    if secret_key and secret_key.strip():
        return KeyRing(parse_key(secret_key), old), None
    if not development:
        raise KeyConfigError(
            "VIGIL_SECRET_KEY is required outside development: set it to base64 of 32 random "
            "bytes (e.g. python -c 'from services.crypto import generate_key; "
            "print(generate_key())')"
        )
    warning = (
        "VIGIL_SECRET_KEY is not set: using an ephemeral credential key for this process. "
        "Stored Confluence credentials will not survive a restart; set VIGIL_SECRET_KEY "
        "to keep them."
    )
    return KeyRing(base64.b64decode(generate_key()), old), warning
