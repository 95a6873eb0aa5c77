"""MongoDB client factory: a real server through motor, or an embedded in-memory store."""

from __future__ import annotations

import logging
from typing import Any

from motor.motor_asyncio import AsyncIOMotorClient

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
    return _embedded_client(), True


def _embedded_client() -> Any:
    _patch_mongomock_bulk_sort()
    from mongomock_motor import AsyncMongoMockClient

    client: Any = AsyncMongoMockClient(tz_aware=True)
    return client


def _patch_mongomock_bulk_sort() -> None:
    """Let mongomock's bulk builder accept pymongo 4.x's ``sort=`` (mongomock issue 912)."""
    from mongomock import collection

    builder: Any = collection.BulkOperationBuilder
    if getattr(builder, "_vigil_patched", False):
        return
    add_update = builder.add_update
    add_replace = builder.add_replace

    def patched_update(self: Any, *args: Any, sort: Any = None, **kwargs: Any) -> Any:
        return add_update(self, *args, **kwargs)

    def patched_replace(self: Any, *args: Any, sort: Any = None, **kwargs: Any) -> Any:
        return add_replace(self, *args, **kwargs)

    builder.add_update = patched_update
    builder.add_replace = patched_replace
    builder._vigil_patched = True
