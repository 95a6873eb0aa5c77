"""The shared event log: how processes that share a database hear each other's events.

Events are inserted into ``events`` (expired after an hour by a TTL index) and every process
follows the collection with one change stream. Needs a replica set (change streams); the
embedded store has none, so a single process uses the in-memory bus alone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from services.store.common import utcnow

EVENT_TTL_SECONDS = 3600


class EventLogRepository:
    """Append and follow the ``events`` collection."""

    def __init__(self, db: Any) -> None:
        self._col = db["events"]

    async def ensure_indexes(self) -> None:
        """Old events expire; nobody reads them after delivery."""
        await self._col.create_index("at", expireAfterSeconds=EVENT_TTL_SECONDS)

    async def append(self, *, origin: str, topic: str, event: Mapping[str, Any]) -> None:
        """Record one event for every process to deliver."""
        await self._col.insert_one(
            {"origin": origin, "topic": topic, "event": dict(event), "at": utcnow()}
        )

    @asynccontextmanager
    async def follow(self) -> AsyncIterator[AsyncIterator[tuple[str, str, dict[str, Any]]]]:
        """Open a change stream (events inserted from now on) and yield its iterator."""
        pipeline = [{"$match": {"operationType": "insert"}}]
        async with self._col.watch(pipeline) as stream:

            async def changes() -> AsyncIterator[tuple[str, str, dict[str, Any]]]:
                async for change in stream:
                    doc = change["fullDocument"]
                    yield doc["origin"], doc["topic"], doc["event"]

            yield changes()
