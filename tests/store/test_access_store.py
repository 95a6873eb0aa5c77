"""Organization and API key repositories, on mongomock-motor and on the wire server."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from services.api_keys import ApiKeyService, hash_key
from services.errors import AlreadyExists, NotFound
from services.events import InMemoryEventBus
from services.models import CreatedApiKey, Framework, NewApiKey, Organization, Role
from services.organizations import OrganizationService
from services.store import Store


async def test_organization_roundtrip(store: Store) -> None:
    org = await store.organizations.create(name="Acme")
    got = await store.organizations.get(organization_id=org.id)
    assert got == org
    assert got.created_at.tzinfo is not None
    assert await store.organizations.count() == 1
    updated = await store.organizations.update_frameworks(
        organization_id=org.id, frameworks=[Framework.ISO27001]
    )
    assert updated.frameworks == (Framework.ISO27001,)
    with pytest.raises(NotFound):
        await store.organizations.get_or_raise(organization_id="org_missing")


async def test_processes_starting_together_create_one_first_organization(store: Store) -> None:
    # Each API process starts with its own client; on an empty database they race.
    services = [
        OrganizationService(
            ApiKeyService(
                InMemoryEventBus(), organizations=store.organizations, api_keys=store.api_keys
            ),
            organizations=store.organizations,
        )
        for _ in range(4)
    ]
    created = await asyncio.gather(
        *(s.ensure_bootstrap_organization("Default organization") for s in services)
    )
    [(org, key)] = [c for c in created if c is not None]
    assert await store.organizations.count() == 1
    assert key.key.organization_id == org.id and key.key.role is Role.ADMIN
    assert await services[0].ensure_bootstrap_organization("Default organization") is None
    await store.organizations.create(name="Another")  # later organizations are created as ever
    assert await services[1].ensure_bootstrap_organization("Default organization") is None
    assert await store.organizations.count() == 2


async def test_api_key_hash_is_unique_and_lookup_works(store: Store) -> None:
    org = await store.organizations.create(name="Acme")
    key = await store.api_keys.create(
        NewApiKey(
            organization_id=org.id, role=Role.VIEWER, name="ci", prefix="vgl_abc", secret_hash="h1"
        )
    )
    assert await store.api_keys.get_by_secret_hash(secret_hash="h1") == key
    with pytest.raises(AlreadyExists) as taken:
        await store.api_keys.create(
            NewApiKey(
                organization_id=org.id, role=Role.ADMIN, name="x", prefix="vgl_x", secret_hash="h1"
            )
        )
    assert "h1" not in str(taken.value)  # the driver's message names the key; ours does not


async def test_revoke_is_scoped_to_the_organization(store: Store) -> None:
    a = await store.organizations.create(name="A")
    b = await store.organizations.create(name="B")
    key = await store.api_keys.create(
        NewApiKey(organization_id=a.id, role=Role.ADMIN, name="k", prefix="vgl_k", secret_hash="hk")
    )
    assert await store.api_keys.revoke(key_id=key.id, organization_id=b.id) is None
    still = await store.api_keys.get(key_id=key.id)
    assert still is not None and still.active
    revoked = await store.api_keys.revoke(key_id=key.id, organization_id=a.id)
    assert revoked is not None and not revoked.active
    first_revoked_at = revoked.revoked_at
    again = await store.api_keys.revoke(key_id=key.id)
    assert again is not None and again.revoked_at == first_revoked_at


async def organization_with_keys(store: Store) -> tuple[ApiKeyService, Organization, CreatedApiKey]:
    """The key service over ``store`` and an organization "Acme" with its first key."""
    keys = ApiKeyService(
        InMemoryEventBus(), organizations=store.organizations, api_keys=store.api_keys
    )
    org, created = await OrganizationService(
        keys, organizations=store.organizations
    ).create_organization("Acme")
    return keys, org, created


async def test_keys_are_stored_as_hashes_and_authenticate(store: Store) -> None:
    access, org, created = await organization_with_keys(store)
    assert created.secret.startswith("vgl_") and len(created.secret) >= 4 + 43
    raw = await store._db["api_keys"].find_one({"_id": created.key.id})
    assert raw is not None
    assert created.secret not in str(raw)
    assert raw["secret_hash"] == hash_key(created.secret)
    principal = await access.authenticate(created.secret)
    assert principal is not None
    assert (principal.organization_id, principal.role) == (org.id, Role.ADMIN)
    assert await access.authenticate(created.secret + "x") is None
    assert await access.authenticate("not-a-key") is None
    await access.revoke_api_key_by_id(created.key.id)
    assert await access.authenticate(created.secret) is None


async def test_list_keys_oldest_first(store: Store) -> None:
    access, org, first = await organization_with_keys(store)
    second = await access.create_api_key_for(org.id, Role.VIEWER, "viewer")
    keys = await store.api_keys.list_by_organization(organization_id=org.id)
    assert [k.id for k in keys] == [first.key.id, second.key.id]
    await store.api_keys.touch(key_id=second.key.id, at=datetime(2026, 1, 1, tzinfo=UTC))
    touched = await store.api_keys.get(key_id=second.key.id)
    assert touched is not None and touched.last_used_at == datetime(2026, 1, 1, tzinfo=UTC)
