"""Each organization's Ed25519 evidence signing key (ADR 021): created on first use,
encrypted at rest under the credential key ring, rotatable; old public keys are kept so
what they signed keeps verifying."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, Protocol

from services.clock import Clock, utcnow_ms
from services.crypto import KeyRing
from services.evidence.signing import PublicKey, SigningKey, StoredSigningKey

# The key ring binds each envelope to (organization, "integration", label): the label is
# the key id, the integration slot names what the secret is.
SLOT = "evidence-signing-key"


class SigningKeysRepo(Protocol):
    """The ``EvidenceKeyRepository`` methods ``EvidenceSigner`` calls."""

    async def current(self, *, organization_id: str) -> StoredSigningKey | None: ...
    async def create_current(self, key: StoredSigningKey) -> StoredSigningKey: ...
    async def rotate(
        self, *, organization_id: str, old_key_id: str, new: StoredSigningKey
    ) -> bool: ...
    async def public_keys(self, *, organization_id: str) -> list[PublicKey]: ...


@dataclass(eq=False, repr=False)
class EvidenceSigner:
    """Hands out an organization's current signing key (decrypted in memory only)."""

    repo: SigningKeysRepo
    keyring: KeyRing
    _: KW_ONLY
    clock: Clock = utcnow_ms
    _cache: dict[str, SigningKey] = field(init=False, default_factory=dict)

    async def key(self, organization_id: str) -> SigningKey:
        """The organization's current key, created on first use (one wins a race)."""
        stored = await self.repo.current(organization_id=organization_id)
        if stored is None:
            stored = await self.repo.create_current(self._new(organization_id))
        cached = self._cache.get(organization_id)
        if cached is not None and cached.key_id == stored.public.key_id:
            return cached
        key = SigningKey.from_secret(self._decrypt(stored))
        self._cache[organization_id] = key
        return key

    async def rotate(self, organization_id: str) -> PublicKey:
        """A new current key; the old one's public half is kept (retired)."""
        old = await self.key(organization_id)
        new = self._new(organization_id)
        if not await self.repo.rotate(
            organization_id=organization_id, old_key_id=old.key_id, new=new
        ):
            return (await self.repo.current(organization_id=organization_id) or new).public
        self._cache.pop(organization_id, None)
        return new.public

    async def public_keys(self, organization_id: str) -> list[PublicKey]:
        """Every key the organization signed with, current first (creating one if none)."""
        await self.key(organization_id)
        keys = await self.repo.public_keys(organization_id=organization_id)
        return sorted(keys, key=lambda k: (k.retired_at is not None, k.created_at), reverse=False)

    async def public_pem(self, organization_id: str) -> str:
        """The current public key, PEM (to hand to an auditor out of band)."""
        return (await self.key(organization_id)).public_pem

    def _new(self, organization_id: str) -> StoredSigningKey:
        key = SigningKey.generate()
        envelope = self.keyring.encrypt(
            key.secret(), org_id=organization_id, integration_id=SLOT, label=key.key_id
        )
        public = PublicKey(key_id=key.key_id, pem=key.public_pem, created_at=self.clock())
        return StoredSigningKey(organization_id, public, dict(envelope))

    def _decrypt(self, stored: StoredSigningKey) -> Mapping[str, Any]:
        return self.keyring.decrypt(
            stored.envelope,
            org_id=stored.organization_id,
            integration_id=SLOT,
            label=stored.public.key_id,
        ).secret
