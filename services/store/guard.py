"""The document size guard: no write sends a document over the store's limit.

MongoDB refuses documents over 16 MB (``DocumentTooLarge``); the embedded store accepts
anything, so an oversized document used to work in development and fail in production.
Every repository reaches its collections through ``GuardedDatabase``, whose collections
measure what each write sends (the BSON size of an inserted or replacing document, of an
update's specification, of every operation of a bulk write) and refuse anything over
``limit`` bytes — 4 MB by default (``VIGIL_MAX_DOCUMENT_BYTES``), well below the server's
16 MB, so that a document approaching it is a visible error long before data is lost.

A refusal raises ``services.errors.DocumentTooLarge`` before anything is sent, logs an
error naming the collection and both sizes, and counts it per collection (``refusals``,
exposed at ``/metrics`` as ``vigil_store_documents_refused_total``). An update is measured
by its specification: a ``$push`` that grows a stored document by little each time is not
caught here (no repository grows documents that way).

Reads and every other method pass through unchanged.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from functools import partialmethod
from typing import Any

import bson
from bson.errors import InvalidDocument

from services.errors import DocumentTooLarge

log = logging.getLogger(__name__)

DEFAULT_MAX_DOCUMENT_BYTES = 4 * 1024 * 1024


class DocumentGuard:
    """The limit, and how many documents it refused per collection."""

    def __init__(self, limit: int = DEFAULT_MAX_DOCUMENT_BYTES) -> None:
        self.limit = limit
        self.refusals: Counter[str] = Counter()
        # Documents sent per collection (inserted, replacing, or an update's specification):
        # what a change costs in writes, counted where every write passes.
        self.written: Counter[str] = Counter()

    def check(self, collection: str, documents: Iterable[Any]) -> None:
        """Raise ``DocumentTooLarge`` if one of ``documents`` is over the limit (else count
        them as written)."""
        count = 0
        for document in documents:
            count += 1
            size = _size(document)
            if size > self.limit:
                self.refusals[collection] += 1
                log.error(
                    "refused to write a %d-byte document to %s: over the store's limit of %d "
                    "bytes (VIGIL_MAX_DOCUMENT_BYTES)",
                    size,
                    collection,
                    self.limit,
                    extra={"collection": collection, "size": size, "limit": self.limit},
                )
                raise DocumentTooLarge(collection, size, self.limit)
        self.written[collection] += count


def _size(document: Any) -> int:
    """The BSON size of a document (0 for what BSON cannot encode: the store decides)."""
    if not isinstance(document, Mapping):
        return 0
    try:
        return len(bson.encode(document))
    except (InvalidDocument, TypeError, OverflowError, ValueError):
        return 0


def _operation_documents(request: Any) -> list[Any]:
    """What a bulk-write operation sends: the document of InsertOne / ReplaceOne, the
    specification of UpdateOne / UpdateMany (``_doc`` in pymongo 4), nothing for deletes."""
    document = getattr(request, "_doc", None)
    return [document] if document is not None else []


class GuardedCollection:
    """A collection whose writes pass through the guard; every other attribute is the
    collection's own."""

    def __init__(self, collection: Any, guard: DocumentGuard) -> None:
        self._collection = collection
        self._guard = guard
        self._name = str(getattr(collection, "name", "?"))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._collection, name)

    async def insert_one(self, document: Any, *args: Any, **kwargs: Any) -> Any:
        self._guard.check(self._name, [document])
        return await self._collection.insert_one(document, *args, **kwargs)

    async def insert_many(self, documents: Any, *args: Any, **kwargs: Any) -> Any:
        documents = list(documents)
        self._guard.check(self._name, documents)
        return await self._collection.insert_many(documents, *args, **kwargs)

    async def _write(self, method: str, query: Any, document: Any, *args: Any, **kw: Any) -> Any:
        """``method`` of the collection, once the guard has measured what it sends after the
        query (a replacing document or an update's specification)."""
        self._guard.check(self._name, [document])
        return await getattr(self._collection, method)(query, document, *args, **kw)

    replace_one = partialmethod(_write, "replace_one")
    update_one = partialmethod(_write, "update_one")
    update_many = partialmethod(_write, "update_many")
    find_one_and_update = partialmethod(_write, "find_one_and_update")
    find_one_and_replace = partialmethod(_write, "find_one_and_replace")

    async def bulk_write(self, requests: Any, *args: Any, **kwargs: Any) -> Any:
        requests = list(requests)
        self._guard.check(self._name, [d for r in requests for d in _operation_documents(r)])
        return await self._collection.bulk_write(requests, *args, **kwargs)


class GuardedDatabase:
    """A database whose collections (``db["name"]``) are guarded; the rest passes through."""

    def __init__(self, database: Any, guard: DocumentGuard) -> None:
        self._database = database
        self._guard = guard

    def __getitem__(self, name: str) -> GuardedCollection:
        return GuardedCollection(self._database[name], self._guard)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._database, name)


__all__ = ["DEFAULT_MAX_DOCUMENT_BYTES", "DocumentGuard", "GuardedCollection", "GuardedDatabase"]
