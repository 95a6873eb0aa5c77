"""API keys: creation, authentication, revocation, role checks."""

from __future__ import annotations

import enum
import hashlib
import secrets
from collections.abc import AsyncGenerator
from dataclasses import KW_ONLY, dataclass
from datetime import datetime, timedelta
from typing import Protocol

from services.clock import Clock, utcnow
from services.errors import Forbidden, NotFound, ValidationFailed
from services.events import EventBus, topic_for
from services.models import ApiKey, CreatedApiKey, NewApiKey, Organization, Principal, Role

#: Bus channel of API key changes: ``{"change": KeyChange, "key_id": ...}``.
API_KEYS_CHANNEL = "api_keys"


class KeyChange(enum.StrEnum):
    """What happened to an API key."""

    CREATED = "CREATED"
    REVOKED = "REVOKED"


KEY_PREFIX = "vgl_"
_TOUCH_EVERY = timedelta(minutes=5)


def hash_key(secret: str) -> str:
    """The stored form of a key value (sha256: keys carry 256 random bits, no salt needed)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def require_role(principal: Principal, required: Role) -> None:
    """Raise ``Forbidden`` unless the caller's role includes ``required``."""
    if not principal.role.allows(required):
        raise Forbidden(f"this operation needs the {required.value} role")


def require_confirmed_admin(principal: Principal, confirm: bool, message: str) -> None:
    """What a write to Atlassian needs: the ADMIN role (else ``Forbidden``) and ``confirm:
    true`` (else ``ValidationFailed`` CONFIRMATION_REQUIRED with ``message``)."""
    require_role(principal, Role.ADMIN)
    if not confirm:
        raise ValidationFailed(message, field=["confirm"], code="CONFIRMATION_REQUIRED")


class KnownOrganizations(Protocol):
    """The ``OrganizationRepository`` method ``ApiKeyService`` calls (a key's organization
    must exist)."""

    async def get_or_raise(self, *, organization_id: str) -> Organization: ...


class ApiKeysRepo(Protocol):
    """The ``ApiKeyRepository`` methods ``ApiKeyService`` calls."""

    async def create(self, key: NewApiKey) -> ApiKey: ...
    async def get(self, *, key_id: str) -> ApiKey | None: ...
    async def get_by_secret_hash(self, *, secret_hash: str) -> ApiKey | None: ...
    async def list_by_organization(self, *, organization_id: str) -> list[ApiKey]: ...
    async def list_owned(self, *, organization_id: str, owner_user_id: str) -> list[ApiKey]: ...
    async def revoke(self, *, key_id: str, organization_id: str | None = None) -> ApiKey | None: ...
    async def touch(self, *, key_id: str, at: datetime) -> None: ...


@dataclass(eq=False, repr=False)
class ApiKeyService:
    """Creates, lists and revokes keys and turns a presented key into a ``Principal``."""

    bus: EventBus
    _: KW_ONLY
    organizations: KnownOrganizations
    api_keys: ApiKeysRepo
    clock: Clock = utcnow

    async def create_initial_key(self, organization_id: str) -> CreatedApiKey:
        """The first ADMIN key of a new organization (nobody watches its keys yet)."""
        return await self._create_key(organization_id, Role.ADMIN, "initial admin key")

    async def create_api_key(
        self, principal: Principal, role: Role, name: str, owner_user_id: str | None = None
    ) -> CreatedApiKey:
        """Create a key in the caller's organization (ADMIN only), optionally owned by a
        member (``owner_user_id``, checked by the caller)."""
        require_role(principal, Role.ADMIN)
        return await self.create_api_key_for(
            principal.organization_id, role, name, owner_user_id=owner_user_id
        )

    async def create_api_key_for(
        self, organization_id: str, role: Role, name: str, *, owner_user_id: str | None = None
    ) -> CreatedApiKey:
        """Create a key for an organization (operator path: CLI)."""
        await self.organizations.get_or_raise(organization_id=organization_id)
        name = name.strip() or f"{role.value.lower()} key"
        if len(name) > 200:
            raise ValidationFailed("name must be at most 200 characters", field=["name"])
        created = await self._create_key(organization_id, role, name, owner_user_id)
        await self._publish(created.key, KeyChange.CREATED)
        return created

    async def revoke_api_key(self, principal: Principal, key_id: str) -> ApiKey:
        """Revoke a key of the caller's organization (ADMIN only)."""
        require_role(principal, Role.ADMIN)
        key = await self.api_keys.revoke(key_id=key_id, organization_id=principal.organization_id)
        if key is None:
            raise NotFound(f"API key {key_id} not found", field=["id"])
        await self._publish(key, KeyChange.REVOKED)
        return key

    async def revoke_api_key_by_id(self, key_id: str) -> ApiKey:
        """Revoke any key by id (operator path: CLI)."""
        key = await self.api_keys.revoke(key_id=key_id)
        if key is None:
            raise NotFound(f"API key {key_id} not found")
        await self._publish(key, KeyChange.REVOKED)
        return key

    async def revoke_owned(self, organization_id: str, owner_user_id: str) -> list[ApiKey]:
        """Revoke every key of the organization a person owns (they left it)."""
        revoked = []
        for key in await self.api_keys.list_owned(
            organization_id=organization_id, owner_user_id=owner_user_id
        ):
            if key.active:
                revoked.append(await self.revoke_api_key_by_id(key.id))
        return revoked

    async def list_owned(self, principal: Principal, owner_user_id: str) -> list[ApiKey]:
        """The keys of the caller's organization a person owns (ADMIN only)."""
        require_role(principal, Role.ADMIN)
        return await self.api_keys.list_owned(
            organization_id=principal.organization_id, owner_user_id=owner_user_id
        )

    async def list_api_keys(self, principal: Principal) -> list[ApiKey]:
        """The caller's organization's keys (ADMIN only)."""
        require_role(principal, Role.ADMIN)
        return await self.api_keys.list_by_organization(organization_id=principal.organization_id)

    async def get_api_key(self, principal: Principal, key_id: str) -> ApiKey | None:
        """A key of the caller's organization (ADMIN sees all; others only their own)."""
        key = await self.api_keys.get(key_id=key_id)
        if key is None or key.organization_id != principal.organization_id:
            return None
        if not principal.role.allows(Role.ADMIN) and key.id != principal.api_key_id:
            return None
        return key

    async def key_for_display(self, principal: Principal, key_id: str) -> ApiKey | None:
        """A key of the caller's organization, for showing who acted (every role).

        Callers show only its name and role: this never grants listing or managing keys.
        """
        key = await self.api_keys.get(key_id=key_id)
        if key is None or key.organization_id != principal.organization_id:
            return None
        return key

    async def authenticate(self, presented: str | None) -> Principal | None:
        """The principal for a presented key value, or None if missing, unknown or revoked."""
        if not presented or not presented.startswith(KEY_PREFIX) or len(presented) > 200:
            return None
        key = await self.api_keys.get_by_secret_hash(secret_hash=hash_key(presented))
        if key is None or not key.active:
            return None
        now = self.clock()
        if key.last_used_at is None or now - key.last_used_at > _TOUCH_EVERY:
            await self.api_keys.touch(key_id=key.id, at=now)
        return Principal(
            organization_id=key.organization_id, role=key.role, api_key_id=key.id, key_name=key.name
        )

    async def key_still_valid(self, principal: Principal) -> bool:
        """Whether the key a principal was authenticated with is still active."""
        if principal.api_key_id is None:
            return False
        key = await self.api_keys.get(key_id=principal.api_key_id)
        return key is not None and key.active and key.organization_id == principal.organization_id

    async def _create_key(
        self, organization_id: str, role: Role, name: str, owner_user_id: str | None = None
    ) -> CreatedApiKey:
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        key = await self.api_keys.create(
            NewApiKey(
                organization_id=organization_id,
                role=role,
                name=name,
                prefix=secret[: len(KEY_PREFIX) + 6],
                secret_hash=hash_key(secret),
                owner_user_id=owner_user_id,
            )
        )
        return CreatedApiKey(key=key, secret=secret)

    async def watch(self, principal: Principal) -> AsyncGenerator[tuple[KeyChange, ApiKey], None]:
        """Every key of the organization created or revoked from now on, as the caller may
        see it (``get_api_key``: ADMIN every key, other roles their own)."""
        topic = topic_for(principal.organization_id, API_KEYS_CHANNEL)
        async for event in self.bus.subscribe(topic):
            key = await self.get_api_key(principal, str(event["key_id"]))
            if key is not None:
                yield KeyChange(event["change"]), key

    async def _publish(self, key: ApiKey, change: KeyChange) -> None:
        await self.bus.publish(
            topic_for(key.organization_id, API_KEYS_CHANNEL),
            {"change": change.value, "key_id": key.id},
        )
