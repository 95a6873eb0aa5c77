"""Checkpoints of people under real concurrency on the wire server (ADR 026): one connection
keeps writing people while another scans (keeping checkpoints whenever it may) and reads
from them; every read holds every write that had finished before it began."""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from services.people.models import person_id
from services.store import Store
from testkit import access_scale as scale

pytestmark = pytest.mark.wire

ORG = "org_packs"
NOW = datetime(2026, 12, 1, tzinfo=UTC)
PEOPLE, ROUNDS = 120, 25


def name_round(name: str | None) -> int:
    return -1 if name is None or not name.startswith("r") else int(name[1:].split(" ")[0])


async def test_reads_from_checkpoints_hold_every_finished_write(
    two_wire_clients: tuple[Store, Store],
) -> None:
    writer, reader = two_wire_clients
    for store in two_wire_clients:
        store.people.checkpoints.pack_from = 10
    rng = random.Random(26)
    ids = [person_id(ORG, scale.email(i)) for i in range(PEOPLE)]
    finished: dict[str, int] = {}  # person id → the last round whose write has returned

    async def write(round_: int, chosen: list[int]) -> None:
        records = [replace(scale.record(i, NOW), name=f"r{round_} {i}") for i in chosen]
        await writer.people.write(organization_id=ORG, records=records, existing={})
        finished.update((ids[i], round_) for i in chosen)

    await write(0, list(range(PEOPLE)))

    async def keep_writing() -> None:
        for round_ in range(1, ROUNDS):
            await write(round_, rng.sample(range(PEOPLE), 15))
            await asyncio.sleep(rng.random() * 0.01)

    checked = kept = 0

    async def keep_reading(writing: asyncio.Task[None]) -> None:
        nonlocal checked, kept
        while not writing.done() or checked < 5:
            await reader.people.list_changed(organization_id=ORG, after_seq=0)  # may keep one
            kept += await reader.packs.seq(f"people|{ORG}") is not None
            before = dict(finished)
            current = await reader.people.list_current(organization_id=ORG)
            names = {p.id: name_round(p.name) for _, p in current}
            assert len(current) == len(names) == PEOPLE  # each once
            behind = {pid: (r, names[pid]) for pid, r in before.items() if names[pid] < r}
            assert behind == {}, f"a read lost finished writes: {behind}"
            checked += 1

    writing = asyncio.create_task(keep_writing())
    await asyncio.gather(writing, keep_reading(writing))

    assert checked >= 5 and kept >= 1
    final = await reader.people.list_current(organization_id=ORG)
    assert {p.id: name_round(p.name) for _, p in final} == finished
