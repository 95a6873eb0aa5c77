"""Rate-limit buckets shared by every process on one database (``rate_limits``).

One document per key: ``tokens`` left and ``at``, the server time they were counted. A take
is ONE ``findAndModify`` whose update is a pipeline evaluated by the server on the document
it holds (a key's first take creates the document first, full): refill ``tokens`` for the
time elapsed since ``at`` (at most ``capacity``), then take ``cost`` (one operation, or an
operation's cost) if at least that much is there, and with it up to ``up_to`` when there is
more (tokens a process holds ahead, ``api.ratelimit``). A single document updated atomically
is a single bucket, whatever the number of processes: over any interval of ``t`` seconds it
gives at most ``capacity + per_second * t`` tokens in total. Time is the server's (``$$NOW``), so
the processes' clocks play no part; it is kept as milliseconds since the epoch
(``$toLong`` of ``$$NOW``): SecantusDB 0.7.0b3 fails with an internal error when a pipeline
subtracts a stored date from ``$$NOW`` (offset-naive minus offset-aware in its evaluator).
A bucket left alone until it would be full again is removed by a TTL index on
``expires_at`` (a missing bucket is a full one).
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pymongo import ReturnDocument

from services.store.common import DuplicateKeyError, utcnow

_NOW_MS = {"$toLong": "$$NOW"}
_ATTEMPTS = 3
# The TTL monitor runs about once a minute; a bucket removed late only costs a document.
_TTL_MARGIN_MS = 1000


@dataclass(frozen=True, slots=True)
class Taken:
    """The outcome of one take: whether it succeeded, the tokens left after it and those
    taken (``cost`` up to ``up_to``; 0 when refused)."""

    allowed: bool
    tokens: float
    granted: float = 0.0


class RateLimitRepository:
    """Atomic token buckets in ``rate_limits`` (needs update pipelines: MongoDB >= 4.2)."""

    def __init__(self, db: Any) -> None:
        self._col = db["rate_limits"]

    async def ensure_indexes(self) -> None:
        """Buckets expire once they would be full again."""
        await self._col.create_index("expires_at", expireAfterSeconds=0)

    async def take(
        self, *, key: str, capacity: float, per_second: float, cost: float = 1.0, up_to: float = 0.0
    ) -> Taken:
        """Take ``cost`` tokens (one by default) from ``key``'s bucket (created full) if they
        are there, and more up to ``up_to`` if there is more."""
        most = max(cost, up_to)
        refilled = {
            "$min": [
                capacity,
                {
                    "$add": [
                        {"$ifNull": ["$tokens", capacity]},
                        {
                            "$multiply": [
                                # Elapsed ms, never negative (a new primary's clock may lag).
                                {
                                    "$max": [
                                        0,
                                        {"$subtract": [_NOW_MS, {"$ifNull": ["$at", _NOW_MS]}]},
                                    ]
                                },
                                per_second / 1000.0,
                            ]
                        },
                    ]
                },
            ]
        }
        full_in_ms = int(capacity / per_second * 1000) + _TTL_MARGIN_MS
        pipeline = [
            {"$set": {"refilled": refilled}},
            {
                "$set": {
                    "granted": {
                        "$cond": [{"$gte": ["$refilled", cost]}, {"$min": ["$refilled", most]}, 0]
                    }
                }
            },
            {
                "$set": {
                    "allowed": {"$gte": ["$refilled", cost]},
                    "tokens": {"$subtract": ["$refilled", "$granted"]},
                    "at": _NOW_MS,
                    "expires_at": {"$add": ["$$NOW", full_in_ms]},
                }
            },
            {"$unset": "refilled"},
        ]
        for _ in range(_ATTEMPTS):
            doc = await self._col.find_one_and_update(
                {"_id": key},
                pipeline,
                return_document=ReturnDocument.AFTER,
                projection={"allowed": 1, "tokens": 1, "granted": 1},
            )
            if doc is not None:
                return Taken(bool(doc["allowed"]), float(doc["tokens"]), float(doc["granted"]))
            # No bucket yet: create it (full), then take. Not an upsert: when two first takes
            # raced to upsert, SecantusDB 0.7.0b3 applied both but answered one with no
            # document, and taking again then took twice.
            with suppress(DuplicateKeyError):
                await self._col.insert_one(
                    {"_id": key, "expires_at": utcnow() + timedelta(milliseconds=full_in_ms)}
                )
        raise RuntimeError("the rate-limit bucket could not be updated")


__all__ = ["RateLimitRepository", "Taken"]
