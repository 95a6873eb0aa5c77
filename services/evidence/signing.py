"""Public-key signatures over evidence (ADR 021): an Ed25519 key per organization.

The HMAC of ADR 006 proves integrity only to whoever holds the HMAC key, i.e. Vigil's
operator. An Ed25519 signature can be checked by anyone holding the organization's public
key — an auditor with ``verify_bundle.py`` — and cannot be made without the private key,
which is stored encrypted under ``VIGIL_SECRET_KEY`` (``services.crypto``), never in clear.

What is signed is always the canonical JSON (``chain.canonical_json``) of an object without
its ``signature`` field, encoded UTF-8; the signature is
``{"alg": "Ed25519", "keyId": <16 hex>, "value": <base64 of 64 bytes>}``. A key's id is the
first 16 hex characters of SHA-256 of its raw 32-byte public key.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from services.evidence.chain import canonical_json

ALGORITHM = "Ed25519"


def signed_text(value: Mapping[str, Any]) -> bytes:
    """The bytes a signature covers: canonical JSON of ``value`` without ``signature``."""
    return canonical_json({k: v for k, v in value.items() if k != "signature"}).encode("utf-8")


def public_key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_pem(public: Ed25519PublicKey) -> str:
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


class SigningKey:
    """An organization's private key in memory; its value never leaves (not in repr)."""

    __slots__ = ("_private", "key_id", "public_pem")

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self.key_id = public_key_id(private.public_key())
        self.public_pem = public_pem(private.public_key())

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.from_private_bytes(os.urandom(32)))

    @classmethod
    def from_secret(cls, secret: Mapping[str, Any]) -> SigningKey:
        """From the decrypted ``{"ed25519": base64 of the 32-byte private key}``."""
        raw = base64.b64decode(str(secret["ed25519"]), validate=True)
        return cls(Ed25519PrivateKey.from_private_bytes(raw))

    def secret(self) -> dict[str, str]:
        """What is encrypted at rest."""
        raw = self._private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        return {"ed25519": base64.b64encode(raw).decode("ascii")}

    def signature(self, value: Mapping[str, Any]) -> dict[str, str]:
        """The ``signature`` field for ``value`` (its other fields, canonical JSON)."""
        raw = self._private.sign(signed_text(value))
        return {
            "alg": ALGORITHM,
            "keyId": self.key_id,
            "value": base64.b64encode(raw).decode("ascii"),
        }

    def signed(self, value: Mapping[str, Any]) -> dict[str, Any]:
        """``value`` with its ``signature``."""
        return {**value, "signature": self.signature(value)}

    def __repr__(self) -> str:
        return f"SigningKey(key_id={self.key_id!r})"


def verify_signature(value: Mapping[str, Any], public_pems: Mapping[str, str]) -> str | None:
    """Why ``value``'s signature does not verify with the key it names among
    ``public_pems`` (key id → PEM), or None when it does."""
    signature = value.get("signature")
    if not isinstance(signature, Mapping) or signature.get("alg") != ALGORITHM:
        return "it carries no Ed25519 signature"
    pem = public_pems.get(str(signature.get("keyId")))
    if pem is None:
        return f"it is signed with an unknown key {signature.get('keyId')!r}"
    public = serialization.load_pem_public_key(pem.encode("ascii"))
    assert isinstance(public, Ed25519PublicKey)
    try:
        public.verify(
            base64.b64decode(str(signature.get("value")), validate=True), signed_text(value)
        )
    except (InvalidSignature, ValueError):
        return "the signature does not verify"
    return None


@dataclass(frozen=True, slots=True)
class PublicKey:
    """One of an organization's signing keys as anyone may see it."""

    key_id: str
    pem: str
    created_at: datetime
    retired_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StoredSigningKey:
    """A signing key as stored: its public half and the encrypted private half."""

    organization_id: str
    public: PublicKey
    envelope: Mapping[str, Any]
