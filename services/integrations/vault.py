"""Encrypted credential storage for integrations (plaintext exists only in memory)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from services.crypto import KeyRing
from services.integrations.models import CredentialRecord
from services.redaction import SECRETS

OAUTH_TOKENS = "oauth_tokens"
CLIENT_CREDENTIALS = "client_credentials"
API_TOKEN = "api_token"
ADMIN_API_KEY = "admin_api_key"

_SECRET_FIELDS = ("access_token", "refresh_token", "client_secret", "api_token", "api_key")


@dataclass(frozen=True, slots=True)
class Secret:
    """A decrypted secret and its label's version when read (what ``swap`` compares)."""

    values: Mapping[str, Any]
    version: int

    def __repr__(self) -> str:
        return f"Secret(fields={sorted(self.values)!r}, version={self.version})"


class CredentialsRepo(Protocol):
    """The ``CredentialRepository`` methods ``CredentialVault`` calls."""

    async def put(
        self,
        *,
        organization_id: str,
        integration_id: str,
        envelopes: Mapping[str, Mapping[str, Any]],
    ) -> CredentialRecord: ...
    async def get(self, *, integration_id: str) -> CredentialRecord | None: ...
    async def swap(
        self,
        *,
        integration_id: str,
        label: str,
        envelope: Mapping[str, Any],
        expect_version: int,
    ) -> CredentialRecord | None: ...
    async def remove_label(self, *, integration_id: str, label: str) -> None: ...
    async def delete(self, *, integration_id: str) -> None: ...


class CredentialVault:
    """Encrypts secrets bound to their organization, integration and label."""

    def __init__(self, repository: CredentialsRepo, keyring: KeyRing) -> None:
        self._repo = repository
        self._keyring = keyring

    async def store(
        self, organization_id: str, integration_id: str, secrets: Mapping[str, Mapping[str, Any]]
    ) -> int:
        """Encrypt and save labelled secrets; returns the new credential version."""
        envelopes = {
            label: self._keyring.encrypt(
                values, org_id=organization_id, integration_id=integration_id, label=label
            )
            for label, values in secrets.items()
        }
        for values in secrets.values():
            _remember(values)
        record = await self._repo.put(
            organization_id=organization_id, integration_id=integration_id, envelopes=envelopes
        )
        return record.version

    async def load(self, organization_id: str, integration_id: str, label: str) -> Secret | None:
        """Decrypt one labelled secret (re-encrypting it under the current key if needed)."""
        record = await self._repo.get(integration_id=integration_id)
        if record is None or record.organization_id != organization_id:
            return None
        return await self._open(record, label)

    async def swap(
        self,
        organization_id: str,
        integration_id: str,
        label: str,
        values: Mapping[str, Any],
        expect_version: int,
    ) -> int | None:
        """Replace a secret only if nobody wrote its label since ``expect_version``.

        Returns the label's new version, or None when the swap was lost."""
        envelope = self._keyring.encrypt(
            values, org_id=organization_id, integration_id=integration_id, label=label
        )
        _remember(values)
        record = await self._repo.swap(
            integration_id=integration_id,
            label=label,
            envelope=envelope,
            expect_version=expect_version,
        )
        return record.label_version(label) if record else None

    async def remove(self, integration_id: str, label: str) -> None:
        """Forget one labelled secret of an integration (the others are untouched)."""
        await self._repo.remove_label(integration_id=integration_id, label=label)

    async def delete(self, integration_id: str) -> None:
        """Forget every secret of an integration."""
        await self._repo.delete(integration_id=integration_id)

    async def _open(self, record: CredentialRecord, label: str) -> Secret | None:
        envelope = record.envelopes.get(label)
        if envelope is None:
            return None
        owner = {
            "org_id": record.organization_id,
            "integration_id": record.integration_id,
            "label": label,
        }
        values, needs_rotation = self._keyring.decrypt(envelope, **owner)
        _remember(values)
        version = record.label_version(label)
        if needs_rotation:
            rotated = await self._repo.swap(
                integration_id=record.integration_id,
                label=label,
                envelope=self._keyring.encrypt(values, **owner),
                expect_version=version,
            )
            version = rotated.label_version(label) if rotated else version
        return Secret(values=values, version=version)


def _remember(values: Mapping[str, Any]) -> None:
    """Teach the log redactor every secret value we handle."""
    for name in _SECRET_FIELDS:
        value = values.get(name)
        if isinstance(value, str):
            SECRETS.add(value)
