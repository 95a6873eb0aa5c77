"""Event bus protocol and backends."""

from services.events.bus import (
    Event,
    EventBus,
    InMemoryEventBus,
    Registered,
    subscribe_now,
    topic_for,
)

__all__ = ["Event", "EventBus", "InMemoryEventBus", "Registered", "subscribe_now", "topic_for"]
