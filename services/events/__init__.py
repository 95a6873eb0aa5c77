"""Event bus protocol and backends."""

from services.events.bus import Event, EventBus, InMemoryEventBus, topic_for

__all__ = ["Event", "EventBus", "InMemoryEventBus", "topic_for"]
