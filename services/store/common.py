"""Helpers shared by the repositories: ids (``services.ids``), time, duplicate-key detection,
keyset pages, the lease documents of one holder at a time, and the mapping of domain
dataclasses to stored documents and back (``to_doc``, ``from_doc``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import MISSING, fields
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

from pymongo import ReturnDocument
from pymongo.errors import BulkWriteError, DuplicateKeyError

from services.clock import utcnow_ms as utcnow
from services.errors import AlreadyExists
from services.ids import new_id

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

D = TypeVar("D", bound="DataclassInstance")
T = TypeVar("T")

__all__ = [
    "DuplicateKeyError",
    "aware",
    "batches",
    "free_lease",
    "from_doc",
    "insert_missing",
    "insert_new",
    "keyset_page",
    "lease_first",
    "new_id",
    "newest_first",
    "renew_lease",
    "take_lease",
    "to_doc",
    "unique",
    "unique_while",
    "utcnow",
]

_DUPLICATE_KEY = 11000


@cache
def _stored_fields(model: type[DataclassInstance]) -> tuple[tuple[str, str, Any], ...]:
    """The dataclass ``model``'s fields as stored: name, key (``_id`` for ``id``) and default
    (``MISSING`` when it has none, or a factory)."""
    return tuple((f.name, "_id" if f.name == "id" else f.name, f.default) for f in fields(model))


def to_doc(obj: DataclassInstance, **converted: Any) -> dict[str, Any]:
    """The stored form of a dataclass: each field under its key (``id`` as ``_id``), the
    ``converted`` ones as given."""
    return {
        key: converted[name] if name in converted else getattr(obj, name)
        for name, key, _ in _stored_fields(type(obj))
    }


def from_doc(model: type[D], doc: Mapping[str, Any], **converted: Any) -> D:
    """The dataclass ``model`` of a stored document: each field not in ``converted`` is the
    value under its key (``_id`` for ``id``); one with a default may be missing (it is then
    the default)."""
    for name, key, default in _stored_fields(model):
        if name not in converted:
            converted[name] = doc[key] if default is MISSING else doc.get(key, default)
    return model(**converted)


async def find_one_as(
    collection: Any, query: Mapping[str, Any], to: Callable[[Mapping[str, Any]], T]
) -> T | None:
    """The document of ``query`` as ``to`` makes it a domain object, or None when none matches."""
    doc = await collection.find_one(query)
    return to(doc) if doc else None


def aware(value: datetime | None) -> datetime | None:
    """``value`` with UTC as its zone when it has none (a driver that reads naive times)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@contextmanager
def unique(what: str) -> Iterator[None]:
    """Turn the driver's duplicate-key error into ``AlreadyExists(what)`` (no key values)."""
    try:
        yield
    except DuplicateKeyError:
        raise AlreadyExists(what) from None


async def insert_new(collection: Any, doc: Mapping[str, Any]) -> bool:
    """Insert ``doc``; False (nothing written) when a unique index already holds its key."""
    try:
        await collection.insert_one(doc)
    except DuplicateKeyError:
        return False
    return True


async def unique_while(collection: Any, keys: list[str], flag: str) -> None:
    """A unique index on ``keys`` among the documents whose ``flag`` is true (one open review
    per system, one active run per integration, one live integration per purpose)."""
    await collection.create_index(
        [(k, 1) for k in [*keys, flag]], unique=True, partialFilterExpression={flag: True}
    )


async def newest_first(
    collection: Any,
    query: Mapping[str, Any],
    field: str,
    before: tuple[datetime, str] | None,
    limit: int,
    projection: Mapping[str, Any] | None = None,
) -> list[Mapping[str, Any]]:
    """Up to ``limit`` documents of ``query`` in ``(field, _id)`` descending order, strictly
    after ``before`` (the ``(field, _id)`` of the last one seen) in that order."""
    return await keyset_page(
        collection,
        query,
        (field, "_id"),
        before,
        limit=limit,
        descending=True,
        projection=projection,
    )


async def keyset_page(
    collection: Any,
    query: Mapping[str, Any],
    order: tuple[str, str],
    after: tuple[Any, Any] | None,
    *,
    limit: int,
    descending: bool = False,
    projection: Mapping[str, Any] | None = None,
) -> list[Mapping[str, Any]]:
    """Up to ``limit`` documents of ``query`` in ``order`` (a field, then a unique field that
    breaks its ties), strictly after ``after`` (the last one seen's values of both).

    Every query is a range of an index led by ``query``'s fields and then ``order``, so a
    server reads about ``limit`` keys of it: first the rest of ``after``'s ties (``field`` equal,
    the tie-breaker beyond), then, for what is missing, the values beyond ``after``'s. (A
    ``$or`` of the two made SecantusDB scan the whole collection, and a range that included the
    ties read all of them again on every page: a bulk import writes thousands of people with
    one ``updated_at``.)
    """
    field, tie = order
    beyond = "$lt" if descending else "$gt"
    direction = -1 if descending else 1
    sort = [(field, direction), (tie, direction)]
    docs: list[Mapping[str, Any]] = []
    if after is not None:
        value, last = after
        ties = {**query, field: value, tie: {beyond: last}}
        docs = await collection.find(ties, projection).sort(sort).limit(limit).to_list(limit)
        if len(docs) >= limit:
            return docs
        query = {**query, field: {beyond: value}}
    missing = limit - len(docs)
    docs += await collection.find(query, projection).sort(sort).limit(missing).to_list(missing)
    return docs


async def insert_missing(collection: Any, docs: list[dict[str, Any]]) -> None:
    """Insert ``docs`` unordered; a document whose ``_id`` is already stored is skipped."""
    if not docs:
        return
    try:
        await collection.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(e.get("code") != _DUPLICATE_KEY for e in errors):
            raise


def free_lease(now: datetime, prefix: str = "") -> dict[str, Any]:
    """The query of a lease nobody holds at ``now`` (never taken, given back, or expired), on
    the fields ``{prefix}owner`` and ``{prefix}expires_at``."""
    return {"$or": [{f"{prefix}expires_at": {"$lte": now}}, {f"{prefix}owner": None}]}


async def lease_first(
    collection: Any,
    query: Mapping[str, Any],
    *,
    order: str,
    owner: str,
    ttl: timedelta,
    now: datetime,
) -> Mapping[str, Any] | None:
    """Lease the first document of ``query`` in ``(order, _id)`` order, a query that asks for
    a lease nobody holds (``free_lease(now, "lease_")``): ``owner`` holds it until
    ``now + ttl`` and ``lease_token`` goes up by one. The document after, or None."""
    doc: Mapping[str, Any] | None = await collection.find_one_and_update(
        query,
        {
            "$set": {"lease_owner": owner, "lease_expires_at": now + ttl},
            "$inc": {"lease_token": 1},
        },
        sort=[(order, 1), ("_id", 1)],
        return_document=ReturnDocument.AFTER,
    )
    return doc


async def take_lease(
    collection: Any,
    key: str,
    *,
    owner: str,
    ttl: timedelta,
    now: datetime,
    also: Mapping[str, Any],
) -> Mapping[str, Any] | None:
    """Take the lease document ``key`` (``owner``, ``token``, ``expires_at``) if it is free or
    expired: ``owner`` holds it until ``now + ttl``, the token goes up by one, ``also`` is set
    with them (the first taker creates the document). The document, or None while another
    owner holds it (the upsert then collides on ``_id``)."""
    update = {
        "$set": {"owner": owner, "expires_at": now + ttl, **also},
        "$inc": {"token": 1},
    }
    try:
        doc: Mapping[str, Any] | None = await collection.find_one_and_update(
            {"_id": key, **free_lease(now)},
            update,
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
    except DuplicateKeyError:
        return None
    return doc


async def renew_lease(
    collection: Any,
    key: str,
    *,
    token: int,
    ttl: timedelta,
    now: datetime,
    also: Mapping[str, Any] | None = None,
) -> bool:
    """Extend the lease ``key`` taken with ``token`` to ``now + ttl`` (setting ``also`` with it);
    False when ``token`` no longer holds it."""
    result = await collection.update_one(
        {"_id": key, "token": token, "owner": {"$ne": None}},
        {"$set": {"expires_at": now + ttl, **(also or {})}},
    )
    return bool(result.matched_count)


async def batches(cursor: Any, size: int = 1000) -> AsyncIterator[list[Any]]:
    """A cursor's documents ``size`` at a time: streamed like ``async for``, without the
    driver's per-document awaits (a few microseconds each, on every account of a snapshot)."""
    while batch := await cursor.to_list(size):
        yield batch
