"""MongoDB client factory: a real server through motor, or an embedded in-memory store."""

from __future__ import annotations

import logging
from typing import Any

from motor.motor_asyncio import AsyncIOMotorClient

from services.store.mongomock_adapter import embedded_client

log = logging.getLogger(__name__)

EMBEDDED_WARNING = (
    "VIGIL_MONGODB_URL is not set: running on an EMBEDDED IN-MEMORY store. "
    "Nothing persists: every organization, key, credential and result is lost on restart."
)


def connect(url: str | None, *, server_selection_timeout_ms: int = 5000) -> tuple[Any, bool]:
    """Return ``(client, embedded)``: motor for ``url``, else mongomock-motor in memory."""
    if url:
        client: Any = AsyncIOMotorClient(
            url, tz_aware=True, serverSelectionTimeoutMS=server_selection_timeout_ms
        )
        return client, False
    log.warning(EMBEDDED_WARNING)
    return embedded_client(), True
