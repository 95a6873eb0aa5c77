"""Events published by one process reach subscribers of another through the database."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from services.events.replicated import ReplicatedEventBus
from services.store import Store
from testkit.conditions import until
from testkit.live import open_store


@pytest.mark.wire
async def test_an_event_crosses_processes_in_order(wire_url: str) -> None:
    api = open_store("wire", wire_url)
    worker = Store.open(wire_url, api._db.name)  # the same database, another client
    await api.ensure_indexes()
    buses = [ReplicatedEventBus(api.events), ReplicatedEventBus(worker.events)]
    followers = [asyncio.create_task(bus.run()) for bus in buses]
    try:
        await asyncio.wait_for(asyncio.gather(*(b.ready.wait() for b in buses)), 10)
        received: list[dict[str, object]] = []

        async def listen() -> None:
            async for event in buses[0].subscribe("org:o1:sync"):
                received.append(event)
                if len(received) == 3:
                    return

        listener = asyncio.create_task(listen())
        await until(lambda: buses[0].subscriber_count("org:o1:sync") == 1, what="the listener")
        await buses[1].publish("org:o2:sync", {"n": -1})  # another organization's topic
        for n in range(3):
            await buses[1].publish("org:o1:sync", {"n": n})
        await asyncio.wait_for(listener, 10)
        assert received == [{"n": 0}, {"n": 1}, {"n": 2}]
    finally:
        for task in followers:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await api.drop()
        api.close()
        worker.close()
