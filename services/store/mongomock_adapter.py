"""The embedded store's mongomock, patched to work and to scale: the one module that does it.

Without ``VIGIL_MONGODB_URL`` Vigil runs on mongomock-motor (``services.store.client.connect``).
mongomock needs four run-time patches, all applied here, once per process, by
``embedded_client``:

- ``BulkOperationBuilder.add_update`` / ``add_replace`` accept and drop pymongo 4.x's
  ``sort=`` (mongomock issue 912, unmerged fix: without it ``bulk_write([UpdateOne(...)])``
  raises ``TypeError``);
- ``Collection._iter_documents`` looks documents up by ``_id`` (and tests ``{field: text}``
  directly) instead of scanning the collection per query;
- ``Cursor.__next__`` takes the next document by index instead of slicing the results per
  document;
- ``_copy_field``, ``Collection._get_dataset`` and ``Cursor._compute_results`` copy a read
  document once, make its datetimes aware in place and sort on one text field by text.

Each replaces or wraps mongomock code it reproduces or relies on (its private attributes
``_store``, ``_skip``, ``_limit``, ``_emitted``, ``_factory``, ``_results``); ``PATCHED``
records a fingerprint of each such mongomock function as this module was written against it.
``tests/store/test_mongomock_adapter.py`` fails, naming this module, when a mongomock release
changes one of them (or fixes issue 912): re-read the patch against the new code, then keep,
adapt or drop it and update ``PATCHED``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

#: mongomock functions the patches replace, wrap or reproduce: name → fingerprint (the first 16
#: hex digits of the SHA-256 of the function's source, dedented).
PATCHED: Mapping[str, str] = MappingProxyType(
    {
        "mongomock.collection.BulkOperationBuilder.add_update": "498fba5638d753d2",
        "mongomock.collection.BulkOperationBuilder.add_replace": "79524a13501d87ad",
        "mongomock.collection.Collection._iter_documents": "84737c60a9067e5f",
        "mongomock.collection.Collection._get_dataset": "80a31cb3676378db",
        "mongomock.collection.Collection._copy_only_fields": "e549a13083f86772",
        "mongomock.collection.Cursor.__init__": "4a9212b0109b07b5",
        "mongomock.collection.Cursor.__next__": "01a9980895acb7e0",
        "mongomock.collection.Cursor._compute_results": "94045c8f7e4f0d00",
        "mongomock.collection._copy_field": "8c102ae033d8371b",
        "mongomock.helpers.make_datetime_timezone_aware_in_document": "07796705b15eca56",
    }
)


def embedded_client() -> Any:
    """An in-memory mongomock-motor client (``tz_aware``), mongomock patched once per process."""
    _patch_mongomock_bulk_sort()
    _patch_mongomock_id_lookup()
    _patch_mongomock_cursor_next()
    _patch_mongomock_reads()
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
            equal = _string_equalities(query)
            if equal is not None and equal:
                return _matching(self, query, equal)
            return scan(self, query)
        store = self._store
        found = [store[i] for i in dict.fromkeys(ids) if i in store]
        return (doc for doc in found if filter_applies(query, doc))  # type: ignore[no-untyped-call]

    cls._iter_documents = iter_documents
    cls._vigil_id_lookup = True


def _patch_mongomock_cursor_next() -> None:
    """Take a cursor's next document by index: mongomock slices its whole result list for
    every document (``results[skip:]``), which makes reading a cursor quadratic in its size
    (a 57,000-membership sorted read spent 17 s there)."""
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


def _string_equalities(query: Any) -> dict[str, str] | None:
    """A query that is only top-level ``field == "text"`` conditions, else None."""
    if type(query) is not dict:
        return None
    for key, value in query.items():
        if type(value) is not str or key.startswith("$") or "." in key:
            return None
    return query


def _matching(collection: Any, query: Any, equal: dict[str, str]) -> Any:
    """Documents matching string equalities, tested directly; a document whose field is not
    a string (an array may contain the text) is left to mongomock's own matching."""
    from mongomock.filtering import filter_applies

    for doc in list(collection._store.documents):
        for key, wanted in equal.items():
            value = doc.get(key)
            if type(value) is str:
                if value != wanted:
                    break
            elif not filter_applies(query, doc):  # type: ignore[no-untyped-call]
                break
        else:
            yield doc


_LEAVES = (str, int, float, bool, bytes, type(None))
_IMMUTABLE = (*_LEAVES, datetime)


def _fast_copy(obj: Any, container: Any) -> Any:
    """mongomock's ``_copy_field`` (dicts and lists copied, leaves ``copy.copy``-ed) without
    its per-leaf ``copy.copy`` of immutable values, which return themselves anyway."""
    kind = type(obj)
    if kind is dict and container is dict:
        return {
            key: value if type(value) in _IMMUTABLE else _fast_copy(value, dict)
            for key, value in obj.items()
        }
    if kind is list:
        return [i if type(i) in _IMMUTABLE else _fast_copy(i, container) for i in obj]
    if kind in _IMMUTABLE:
        return obj
    if isinstance(obj, dict):
        new = container()
        for key, value in obj.items():
            new[key] = value if type(value) in _IMMUTABLE else _fast_copy(value, container)
        return new
    if isinstance(obj, list):
        return [_fast_copy(item, container) for item in obj]
    return copy.copy(obj)


def _aware_in_place(value: Any) -> Any:
    """``make_datetime_timezone_aware_in_document`` on a document the cursor owns (a fresh
    copy): datetimes get UTC and tuples become lists in place, instead of a second copy."""
    from bson.tz_util import utc  # what mongomock gives its datetimes

    kind = type(value)
    if kind is dict:
        for key, item in value.items():
            if type(item) not in _LEAVES:
                value[key] = _aware_in_place(item)
        return value
    if kind is list:
        for index, item in enumerate(value):
            if type(item) not in _LEAVES:
                value[index] = _aware_in_place(item)
        return value
    if kind is tuple:
        return [_aware_in_place(item) for item in value]
    if isinstance(value, datetime):
        return value.replace(tzinfo=utc)
    if isinstance(value, dict):
        return {key: _aware_in_place(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_aware_in_place(item) for item in value]
    return value


def _text_sort(sort: Any) -> tuple[str, int] | None:
    """``(field, direction)`` of a sort on one plain top-level field, else None."""
    if not isinstance(sort, list | tuple) or len(sort) != 1:
        return None
    pair = sort[0]
    if not isinstance(pair, list | tuple) or len(pair) != 2:
        return None
    field, direction = pair
    if not isinstance(field, str) or field.startswith("$") or "." in field:
        return None
    return (field, direction) if direction in (1, -1) else None


def _patch_mongomock_reads() -> None:
    """Read documents in one cheap copy (a cold evaluation of 100,000 accounts spent
    most of its time here): mongomock copied every document field by field with ``copy.copy``,
    then copied it again to make its datetimes timezone-aware, and matched ``{field: text}``
    queries through its general filter, and sorted on one text field through a BSON
    comparison per pair. Same documents, same order, fewer copies."""
    from mongomock import collection

    cursor: Any = collection.Cursor
    if getattr(cursor, "_vigil_reads_patched", False):
        return
    collection._copy_field = _fast_copy
    cls: Any = collection.Collection
    get_dataset = cls._get_dataset

    def sorted_dataset(self: Any, spec: Any, sort: Any, fields: Any, as_class: Any) -> Any:
        # mongomock sorts through a BSON-comparison wrapper (a Python call per comparison);
        # when every value of the one sort field is text, text order is the same order.
        by = _text_sort(sort)
        docs = list(self._iter_documents(spec)) if by is not None else []
        if by is None or not all(type(d.get(by[0])) is str for d in docs):
            yield from get_dataset(self, spec, sort, fields, as_class)
            return
        docs.sort(key=lambda d: d[by[0]], reverse=by[1] < 0)
        for doc in docs:
            yield self._copy_only_fields(doc, fields, as_class)

    cls._get_dataset = sorted_dataset

    def compute_results(self: Any, with_limit_and_skip: bool = False) -> Any:
        if not self._results or self._factory_last_generated_results != self._factory:
            results = list(self._factory())  # fresh copies (``_copy_only_fields``)
            if self.collection.codec_options.tz_aware:
                results = [_aware_in_place(doc) for doc in results]
            self._factory_last_generated_results = self._factory
            self._results = results
        if with_limit_and_skip:
            limited = self._results[self._skip :]
            return limited[: abs(self._limit)] if self._limit else limited
        return self._results

    cursor._compute_results = compute_results
    cursor._vigil_reads_patched = True
