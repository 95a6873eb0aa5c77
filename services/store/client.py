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
    _patch_mongomock_id_lookup()
    _patch_mongomock_cursor_next()
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


def _id_candidates(query: Any) -> list[Any] | None:
    """The ``_id`` values a query is restricted to (equality or ``$in``), else None."""
    if not isinstance(query, dict) or "_id" not in query:
        return None
    wanted = query["_id"]
    if isinstance(wanted, str | int):
        return [wanted]
    if isinstance(wanted, dict) and set(wanted) == {"$in"} and isinstance(wanted["$in"], list):
        values = wanted["$in"]
        return values if all(isinstance(v, str | int) for v in values) else None
    return None


def _patch_mongomock_id_lookup() -> None:
    """Look documents up by ``_id`` instead of scanning the collection (mongomock scans every
    document for every query, which makes per-document bulk upserts quadratic)."""
    from mongomock import collection
    from mongomock.filtering import filter_applies

    cls: Any = collection.Collection
    if getattr(cls, "_vigil_id_lookup", False):
        return
    scan = cls._iter_documents

    def iter_documents(self: Any, query: Any) -> Any:
        ids = _id_candidates(query)
        if ids is None:
            return scan(self, query)
        store = self._store
        found = [store[i] for i in dict.fromkeys(ids) if i in store]
        return (doc for doc in found if filter_applies(query, doc))  # type: ignore[no-untyped-call]

    cls._iter_documents = iter_documents
    cls._vigil_id_lookup = True


def _patch_mongomock_cursor_next() -> None:
    """Take a cursor's next document by index: mongomock slices its whole result list for
    every document (``results[skip:]``), which makes reading a cursor quadratic in its size
    (a 57,000-membership sorted read spent 17 s there; issue 15)."""
    from mongomock import collection

    cls: Any = collection.Cursor
    if getattr(cls, "_vigil_next_patched", False):
        return

    def next_document(self: Any) -> Any:
        limit = abs(self._limit) if self._limit else None
        if limit is not None and self._emitted >= limit:
            raise StopIteration
        results = self._compute_results(with_limit_and_skip=False)  # cached, not copied
        index = self._skip + self._emitted
        if index >= len(results):
            raise StopIteration
        self._emitted += 1
        return results[index]

    cls.__next__ = next_document
    cls.next = next_document
    cls._vigil_next_patched = True
