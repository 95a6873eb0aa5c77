"""In-memory event bus: ordering, bounded queues, cleanup on cancel."""

from __future__ import annotations

import asyncio

from services.events import InMemoryEventBus, topic_for
from testkit.conditions import until


async def test_events_arrive_in_order_and_only_on_their_topic() -> None:
    bus = InMemoryEventBus()
    stream = bus.subscribe("t1")
    first = asyncio.ensure_future(stream.__anext__())
    await asyncio.sleep(0)
    assert bus.subscriber_count("t1") == 1
    await bus.publish("t2", {"n": 0})
    await bus.publish("t1", {"n": 1})
    await bus.publish("t1", {"n": 2})
    assert await first == {"n": 1}
    assert await stream.__anext__() == {"n": 2}
    await stream.aclose()
    assert bus.subscriber_count() == 0


async def test_cancelled_subscriber_is_removed() -> None:
    bus = InMemoryEventBus(max_queue=3)

    async def consume() -> None:
        async for _ in bus.subscribe(topic_for("org1", "x")):
            pass

    task = asyncio.create_task(consume())
    await until(lambda: bus.subscriber_count(topic_for("org1", "x")) == 1, what="the consumer")
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled()
    assert bus.subscriber_count() == 0


async def test_bounded_queue_drops_oldest() -> None:
    bus = InMemoryEventBus(max_queue=3)
    stream = bus.subscribe("t")
    waiter = asyncio.ensure_future(stream.__anext__())
    await asyncio.sleep(0)
    await bus.publish("t", {"n": 0})
    assert await waiter == {"n": 0}
    for n in range(1, 8):
        await bus.publish("t", {"n": n})
    assert bus.dropped == 4
    got = [await stream.__anext__() for _ in range(3)]
    assert got == [{"n": 5}, {"n": 6}, {"n": 7}]
    await stream.aclose()
