"""Revision counters with writer registration, on both stores (ADR 005)."""

from __future__ import annotations

from datetime import timedelta

from services.clock import utcnow_ms
from services.store import Store
from services.store.revisions import ABANDONED


async def test_reserve_register_release(store: Store) -> None:
    revisions = store.revisions
    state = await revisions.state(organization_id="org_r", name="people")
    assert (state.value, state.writing) == (0, False)
    one = await revisions.reserve(organization_id="org_r", name="people", count=3)
    two = await revisions.reserve(organization_id="org_r", name="people")
    assert (one.first, one.last, two.first, two.last) == (1, 3, 4, 4)
    assert (await revisions.state(organization_id="org_r", name="people")).writing
    await revisions.release(organization_id="org_r", name="people", token=one.token)
    assert (await revisions.state(organization_id="org_r", name="people")).writing
    await revisions.release(organization_id="org_r", name="people", token=two.token)
    state = await revisions.state(organization_id="org_r", name="people")
    assert (state.value, state.writing) == (4, False)
    assert (await revisions.state(organization_id="org_other", name="people")).value == 0


async def test_an_abandoned_writer_is_ignored(store: Store) -> None:
    revisions = store.revisions
    await revisions.reserve(organization_id="org_r", name="identities")
    col = store._db["revisions"]
    old = utcnow_ms() - ABANDONED - timedelta(seconds=1)
    await col.update_one({"_id": "org_r:identities"}, {"$set": {"writers.0.at": old}})
    assert not (await revisions.state(organization_id="org_r", name="identities")).writing
