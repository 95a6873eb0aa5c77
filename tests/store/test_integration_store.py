"""Integrations, credentials, OAuth states and download links repositories, on both stores."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from services.errors import AlreadyExists
from services.integrations.models import AuthMethod, IntegrationStatus, OAuthState, Purpose
from services.store import Store
from services.store.common import utcnow


async def _integration(
    store: Store, status: IntegrationStatus = IntegrationStatus.CONNECTED
) -> str:
    created = await store.integrations.create(
        organization_id="org1",
        purpose=Purpose.POLICY,
        auth_method=AuthMethod.API_TOKEN,
        status=status,
        sync_interval_minutes=360,
    )
    return created.id


async def test_one_live_integration_per_purpose(store: Store) -> None:
    first = await _integration(store)
    with pytest.raises(AlreadyExists):
        await _integration(store)
    await store.integrations.update(integration_id=first, status=IntegrationStatus.DISCONNECTED)
    second = await _integration(store)
    assert second != first
    assert await store.integrations.get(organization_id="other", integration_id=second) is None
    live = await store.integrations.get_live_for_purpose(
        organization_id="org1", purpose=Purpose.POLICY
    )
    assert live is not None and live.id == second


async def test_credential_compare_and_swap_and_refresh_lock(store: Store) -> None:
    record = await store.credentials.put(
        organization_id="org1", integration_id="i1", envelopes={"a": {"ct": "1"}}
    )
    assert record.version == 1
    won = await store.credentials.swap(
        integration_id="i1", label="a", envelope={"ct": "2"}, expect_version=1
    )
    lost = await store.credentials.swap(
        integration_id="i1", label="a", envelope={"ct": "3"}, expect_version=1
    )
    assert won is not None and won.label_version("a") == 2 and lost is None
    now = utcnow()
    assert await store.credentials.acquire_refresh_lock(
        integration_id="i1", owner="p1", now=now, until=now + timedelta(seconds=30)
    )
    assert not await store.credentials.acquire_refresh_lock(
        integration_id="i1", owner="p2", now=now, until=now + timedelta(seconds=30)
    )
    later = now + timedelta(seconds=31)  # an expired lock (crashed holder) can be taken over
    assert await store.credentials.acquire_refresh_lock(
        integration_id="i1", owner="p2", now=later, until=later + timedelta(seconds=30)
    )
    await store.credentials.release_refresh_lock(
        integration_id="i1", owner="p1"
    )  # not p1's any more
    assert not await store.credentials.acquire_refresh_lock(
        integration_id="i1", owner="p3", now=later, until=later
    )
    await store.credentials.release_refresh_lock(integration_id="i1", owner="p2")
    assert await store.credentials.acquire_refresh_lock(
        integration_id="i1", owner="p3", now=later, until=later
    )


async def test_credential_swap_is_per_label(store: Store) -> None:
    """Writing one label (the admin key) must not make another label's swap (OAuth) fail."""
    await store.credentials.put(
        organization_id="org1", integration_id="i1", envelopes={"oauth": {"ct": "1"}}
    )
    seen = await store.credentials.get(integration_id="i1")
    assert seen is not None and seen.label_version("oauth") == 1
    await store.credentials.put(
        organization_id="org1", integration_id="i1", envelopes={"admin": {"ct": "k"}}
    )
    won = await store.credentials.swap(
        integration_id="i1", label="oauth", envelope={"ct": "2"}, expect_version=1
    )
    assert won is not None and won.label_version("oauth") == 2
    assert won.envelopes["admin"] == {"ct": "k"}
    lost = await store.credentials.swap(
        integration_id="i1", label="oauth", envelope={"ct": "3"}, expect_version=1
    )
    assert lost is None
    await store.credentials.remove_label(integration_id="i1", label="admin")
    after = await store.credentials.swap(
        integration_id="i1", label="oauth", envelope={"ct": "4"}, expect_version=2
    )
    assert after is not None and "admin" not in after.envelopes


async def test_credential_swap_of_a_record_written_before_label_versions(store: Store) -> None:
    await store._db["credentials"].insert_one(
        {"_id": "old", "organization_id": "org1", "version": 7, "secrets": {"a": {"ct": "1"}}}
    )
    record = await store.credentials.get(integration_id="old")
    assert record is not None and record.label_version("a") == 0
    won = await store.credentials.swap(
        integration_id="old", label="a", envelope={"ct": "2"}, expect_version=0
    )
    assert won is not None and won.label_version("a") == 1
    assert (
        await store.credentials.swap(
            integration_id="old", label="a", envelope={"ct": "3"}, expect_version=0
        )
        is None
    )


async def test_oauth_state_is_single_use_and_expires(store: Store) -> None:
    now = utcnow()
    await store.oauth_states.create(
        state_hash="h1", bound_to=OAuthState("o", "i", now + timedelta(minutes=10))
    )
    await store.oauth_states.create(
        state_hash="h2", bound_to=OAuthState("o", "i", now - timedelta(seconds=1))
    )
    first = await store.oauth_states.consume(state_hash="h1", now=now)
    assert first is not None and first.integration_id == "i"
    assert await store.oauth_states.consume(state_hash="h1", now=now) is None
    assert await store.oauth_states.consume(state_hash="h2", now=now) is None
    assert await store.oauth_states.consume(state_hash="unknown", now=now) is None


async def test_a_download_link_is_used_once_even_concurrently(store: Store) -> None:
    until = utcnow() + timedelta(minutes=1)
    links = store.download_links
    used = await asyncio.gather(*(links.use(token_hash="t1", expires_at=until) for _ in range(8)))
    assert sorted(used) == [False] * 7 + [True]
    assert await links.use(token_hash="t2", expires_at=until) is True
