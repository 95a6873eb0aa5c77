"""Alert channels (``alert_channels``), alerts (``alerts``) and deliveries (``alert_deliveries``).

- A channel document holds its secrets only as an encrypted envelope (``secret``), never in
  clear; ``(organization_id, name)`` is unique.
- An alert's ``_id`` is ``<organization_id>|<key>``: recording the same change twice (a
  result published again, two processes, a restart) collides and is ignored. A dispatcher
  takes unbatched alerts into a batch with a conditional write per alert (each alert lands in
  exactly one batch), writes the batch's deliveries, then marks the batch ``queued``; a batch
  left unqueued (its dispatcher died in between) is queued again by the next one — delivery
  ids are derived from the batch and the channel, so that write is idempotent.
- A delivery is claimed with a lease like a remediation action (``lease_token`` + 1 at every
  claim; every later write is conditional on it), so one process sends a given message at a
  time. SENT deliveries expire after ``RETENTION``; dead letters stay until retried.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ReturnDocument

from services.alerts.models import (
    Alert,
    AttemptOutcome,
    Channel,
    ChannelChanges,
    ChannelKind,
    Delivery,
    DeliveryClaim,
    DeliveryFilter,
    DeliveryState,
)
from services.store.common import (
    aware,
    find_one_as,
    free_lease,
    insert_new,
    lease_first,
    newest_first,
    to_doc,
    unique,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
RETENTION = timedelta(days=30)
_RETENTION_SECONDS = int(RETENTION.total_seconds())


class AlertChannelRepository:
    """Persistence of alert channels."""

    def __init__(self, db: Any) -> None:
        self._col = db["alert_channels"]

    async def ensure_indexes(self) -> None:
        """Names are unique within an organization."""
        await self._col.create_index([("organization_id", 1), ("name", 1)], unique=True)

    async def create(self, channel: Channel, *, envelope: Mapping[str, Any] | None) -> Channel:
        """Store a new channel; ``AlreadyExists`` when its name is taken."""
        doc = {**_channel_doc(channel), "secret": dict(envelope) if envelope else None}
        with unique("alert channel name"):
            await self._col.insert_one(doc)
        return channel

    async def get(self, *, organization_id: str, channel_id: str) -> Channel | None:
        """One channel of the organization."""
        return await find_one_as(
            self._col, {"_id": channel_id, "organization_id": organization_id}, _to_channel
        )

    async def envelope(self, *, organization_id: str, channel_id: str) -> Mapping[str, Any] | None:
        """The channel's encrypted secrets, if it has any."""
        doc = await self._col.find_one(
            {"_id": channel_id, "organization_id": organization_id}, {"secret": 1}
        )
        return doc.get("secret") if doc else None

    async def set_envelope(
        self, *, organization_id: str, channel_id: str, envelope: Mapping[str, Any]
    ) -> bool:
        """Replace the channel's encrypted secrets."""
        result = await self._col.update_one(
            {"_id": channel_id, "organization_id": organization_id},
            {"$set": {"secret": dict(envelope)}},
        )
        return bool(result.matched_count)

    async def list(self, *, organization_id: str) -> list[Channel]:
        """The organization's channels, oldest first."""
        cursor = self._col.find({"organization_id": organization_id}, {"secret": 0})
        return [_to_channel(d) async for d in cursor.sort([("created_at", 1), ("_id", 1)])]

    async def count(self, *, organization_id: str) -> int:
        """How many channels the organization has."""
        return int(await self._col.count_documents({"organization_id": organization_id}))

    async def has_enabled(self, *, organization_id: str) -> bool:
        """Whether any channel of the organization is enabled."""
        found = await self._col.find_one(
            {"organization_id": organization_id, "enabled": True}, {"_id": 1}
        )
        return found is not None

    async def update(
        self, *, organization_id: str, channel_id: str, changes: ChannelChanges
    ) -> Channel | None:
        """Change what is given; None when there is no such channel. ``AlreadyExists`` when
        the new name is taken."""
        fields = {k: v for k, v in to_doc(changes).items() if v is not None}
        if changes.recipients is not None:
            fields["recipients"] = list(changes.recipients)
        query = {"_id": channel_id, "organization_id": organization_id}
        if not fields:
            return await self.get(organization_id=organization_id, channel_id=channel_id)
        with unique("alert channel name"):
            doc = await self._col.find_one_and_update(
                query, {"$set": fields}, return_document=ReturnDocument.AFTER
            )
        return _to_channel(doc) if doc else None

    async def delete(self, *, organization_id: str, channel_id: str) -> bool:
        """Remove a channel (and its secrets)."""
        result = await self._col.delete_one({"_id": channel_id, "organization_id": organization_id})
        return bool(result.deleted_count)

    async def record_outcome(self, *, channel_id: str, at: datetime, error: str | None) -> None:
        """Remember the latest attempt: delivered (``error`` None) or failed."""
        update = (
            {"last_delivered_at": at}
            if error is None
            else {"last_failed_at": at, "last_error": error}
        )
        await self._col.update_one({"_id": channel_id}, {"$set": update})


class AlertRepository:
    """Persistence of alerts (deduplicated by key) and their batching."""

    def __init__(self, db: Any) -> None:
        self._col = db["alerts"]

    async def ensure_indexes(self) -> None:
        """Unbatched alerts are found by organization and age; batches by id; old alerts
        expire (the key only has to outlive a re-published change)."""
        await self._col.create_index([("batch_id", 1), ("organization_id", 1), ("created_at", 1)])
        await self._col.create_index([("queued", 1), ("batched_at", 1)])
        await self._col.create_index(
            "created_at", expireAfterSeconds=int(RETENTION.total_seconds())
        )

    async def record(self, alert: Alert, *, now: datetime) -> bool:
        """Record an alert; False when one with its key already exists."""
        doc = {
            "_id": f"{alert.organization_id}|{alert.key}",
            "organization_id": alert.organization_id,
            "alert": alert.to_json(),
            "created_at": now,
            "batch_id": None,
            "batched_at": None,
            "queued": False,
        }
        return await insert_new(self._col, doc)

    async def oldest_unbatched(self) -> datetime | None:
        """When the oldest alert not yet in a batch was recorded."""
        cursor = self._col.find({"batch_id": None}, {"created_at": 1}).sort("created_at", 1)
        async for doc in cursor.limit(1):
            return aware(doc["created_at"])
        return None

    async def due_organizations(self, *, recorded_before: datetime) -> list[str]:
        """Organizations with an unbatched alert recorded at or before ``recorded_before``."""
        query = {"batch_id": None, "created_at": {"$lte": recorded_before}}
        return sorted(
            {d["organization_id"] async for d in self._col.find(query, {"organization_id": 1})}
        )

    async def claim_batch(
        self, *, organization_id: str, batch_id: str, now: datetime, limit: int
    ) -> list[Alert]:
        """Put up to ``limit`` of the organization's unbatched alerts (oldest first) into
        ``batch_id``; the alerts this call took (another process may take some first)."""
        cursor = (
            self._col.find({"batch_id": None, "organization_id": organization_id}, {"_id": 1})
            .sort([("created_at", 1), ("_id", 1)])
            .limit(limit)
        )
        ids = [d["_id"] async for d in cursor]
        if not ids:
            return []
        await self._col.update_many(
            {"_id": {"$in": ids}, "batch_id": None},
            {"$set": {"batch_id": batch_id, "batched_at": now}},
        )
        return await self.batch(organization_id=organization_id, batch_id=batch_id)

    async def batch(self, *, organization_id: str, batch_id: str) -> list[Alert]:
        """The alerts of one batch, oldest first."""
        cursor = self._col.find({"batch_id": batch_id, "organization_id": organization_id})
        docs = [d async for d in cursor.sort([("created_at", 1), ("_id", 1)])]
        return [Alert.from_json(d["organization_id"], d["alert"]) for d in docs]

    async def mark_queued(self, *, batch_id: str) -> None:
        """The batch's deliveries are written."""
        await self._col.update_many({"batch_id": batch_id}, {"$set": {"queued": True}})

    async def unqueued_batches(self, *, batched_before: datetime) -> list[tuple[str, str]]:
        """``(organization_id, batch_id)`` of batches whose deliveries were never written."""
        query = {"queued": False, "batched_at": {"$ne": None, "$lte": batched_before}}
        found = {
            (d["organization_id"], d["batch_id"])
            async for d in self._col.find(query, {"organization_id": 1, "batch_id": 1})
        }
        return sorted(found)


class AlertDeliveryRepository:
    """Persistence of deliveries: the queue, its leases, and the dead letters."""

    def __init__(self, db: Any) -> None:
        self._col = db["alert_deliveries"]

    async def ensure_indexes(self) -> None:
        """Claims scan due PENDING deliveries; lists page by creation; SENT ones expire."""
        await self._col.create_index([("state", 1), ("next_attempt_at", 1)])
        await self._col.create_index([("organization_id", 1), ("created_at", -1), ("_id", -1)])
        await self._col.create_index(
            [("organization_id", 1), ("state", 1), ("created_at", -1), ("_id", -1)]
        )
        await self._col.create_index("sent_at", expireAfterSeconds=_RETENTION_SECONDS)

    async def enqueue(self, deliveries: Sequence[Delivery]) -> None:
        """Queue deliveries; one whose id is already stored is left as it is."""
        for delivery in deliveries:
            doc = _delivery_doc(delivery)
            await self._col.update_one({"_id": doc.pop("_id")}, {"$setOnInsert": doc}, upsert=True)

    async def claim(self, *, owner: str, ttl: timedelta, now: datetime) -> DeliveryClaim | None:
        """Lease the PENDING delivery due first whose lease is free or expired (token + 1)."""
        doc = await lease_first(
            self._col,
            {
                "state": DeliveryState.PENDING.value,
                "next_attempt_at": {"$lte": now},
                **free_lease(now, "lease_"),
            },
            order="next_attempt_at",
            owner=owner,
            ttl=ttl,
            now=now,
        )
        return DeliveryClaim(_to_delivery(doc), int(doc["lease_token"])) if doc else None

    async def finish(self, claim: DeliveryClaim, outcome: AttemptOutcome) -> Delivery | None:
        """Record an attempt and release the lease (fenced); None when the claim was lost."""
        state, now = outcome.state, outcome.at
        update: dict[str, Any] = {
            "state": state.value,
            "attempts": outcome.attempts,
            "updated_at": now,
            "lease_owner": None,
            "lease_expires_at": _EPOCH,
        }
        if state is DeliveryState.SENT:
            update["sent_at"] = now
        else:
            update["last_error"] = outcome.error
        if state is DeliveryState.DEAD_LETTER:
            update["dead_lettered_at"] = now
        if outcome.next_attempt_at is not None:
            update["next_attempt_at"] = outcome.next_attempt_at
        doc = await self._col.find_one_and_update(
            {"_id": claim.delivery.id, "lease_token": claim.token},
            {"$set": update},
            return_document=ReturnDocument.AFTER,
        )
        return _to_delivery(doc) if doc else None

    async def next_due(self, *, now: datetime) -> datetime | None:
        """When a PENDING delivery can next be claimed: the earliest attempt due among those
        nobody holds, or the earliest expiry of a lease held now."""
        free = free_lease(now, "lease_")
        pending = {"state": DeliveryState.PENDING.value}
        times: list[datetime] = []
        cursor = (
            self._col.find({**pending, **free}, {"next_attempt_at": 1})
            .sort("next_attempt_at", 1)
            .limit(1)
        )
        times += [d["next_attempt_at"] async for d in cursor]
        held = {**pending, "lease_owner": {"$ne": None}, "lease_expires_at": {"$gt": now}}
        cursor = self._col.find(held, {"lease_expires_at": 1}).sort("lease_expires_at", 1).limit(1)
        times += [d["lease_expires_at"] async for d in cursor]
        found = [t for t in (aware(t) for t in times) if t is not None]
        return min(found) if found else None

    async def get(self, *, organization_id: str, delivery_id: str) -> Delivery | None:
        """One delivery of the organization."""
        return await find_one_as(
            self._col, {"_id": delivery_id, "organization_id": organization_id}, _to_delivery
        )

    async def page(
        self, which: DeliveryFilter, *, limit: int, before: tuple[datetime, str] | None
    ) -> tuple[list[Delivery], int]:
        """Up to ``limit`` deliveries, newest first, strictly after ``before``; and the total."""
        query: dict[str, Any] = {"organization_id": which.organization_id}
        if which.state is not None:
            query["state"] = which.state.value
        if which.channel_id is not None:
            query["channel_id"] = which.channel_id
        total = int(await self._col.count_documents(query))
        docs = await newest_first(self._col, query, "created_at", before, limit)
        return [_to_delivery(d) for d in docs], total

    async def retry(
        self, *, organization_id: str, delivery_id: str, now: datetime
    ) -> Delivery | None:
        """Queue a dead letter again (attempts from zero); None unless it is a dead letter."""
        doc = await self._col.find_one_and_update(
            {
                "_id": delivery_id,
                "organization_id": organization_id,
                "state": DeliveryState.DEAD_LETTER.value,
            },
            {
                "$set": {
                    "state": DeliveryState.PENDING.value,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "dead_lettered_at": None,
                    "updated_at": now,
                    "lease_owner": None,
                    "lease_expires_at": _EPOCH,
                }
            },
            return_document=ReturnDocument.AFTER,
        )
        return _to_delivery(doc) if doc else None

    async def drop_pending(self, *, organization_id: str, channel_id: str) -> int:
        """Forget the PENDING deliveries of a deleted channel."""
        result = await self._col.delete_many(
            {
                "organization_id": organization_id,
                "channel_id": channel_id,
                "state": DeliveryState.PENDING.value,
            }
        )
        return int(result.deleted_count)


def _channel_doc(c: Channel) -> dict[str, Any]:
    return to_doc(c, kind=c.kind.value, recipients=list(c.recipients))


def _to_channel(doc: Mapping[str, Any]) -> Channel:
    created_at = aware(doc["created_at"])
    assert created_at is not None
    return Channel(
        id=doc["_id"],
        organization_id=doc["organization_id"],
        name=doc["name"],
        kind=ChannelKind(doc["kind"]),
        enabled=bool(doc["enabled"]),
        target=doc.get("target") or "",
        recipients=tuple(doc.get("recipients") or ()),
        created_at=created_at,
        created_by=doc["created_by"],
        last_delivered_at=aware(doc.get("last_delivered_at")),
        last_failed_at=aware(doc.get("last_failed_at")),
        last_error=doc.get("last_error"),
    )


def _delivery_doc(d: Delivery) -> dict[str, Any]:
    return {
        **to_doc(
            d,
            channel_kind=d.channel_kind.value,
            alerts=[a.to_json() for a in d.alerts],
            state=d.state.value,
            next_attempt_at=d.next_attempt_at or d.created_at,
            updated_at=d.updated_at or d.created_at,
        ),
        "lease_owner": None,
        "lease_expires_at": _EPOCH,
        "lease_token": 0,
    }


def _to_delivery(doc: Mapping[str, Any]) -> Delivery:
    created_at = aware(doc["created_at"])
    assert created_at is not None
    org = doc["organization_id"]
    return Delivery(
        id=doc["_id"],
        organization_id=org,
        channel_id=doc["channel_id"],
        channel_name=doc["channel_name"],
        channel_kind=ChannelKind(doc["channel_kind"]),
        alerts=tuple(Alert.from_json(org, a) for a in doc.get("alerts") or ()),
        state=DeliveryState(doc["state"]),
        attempts=int(doc.get("attempts", 0)),
        created_at=created_at,
        next_attempt_at=aware(doc.get("next_attempt_at")),
        last_error=doc.get("last_error"),
        updated_at=aware(doc.get("updated_at")),
        sent_at=aware(doc.get("sent_at")),
        dead_lettered_at=aware(doc.get("dead_lettered_at")),
    )


__all__ = ["AlertChannelRepository", "AlertDeliveryRepository", "AlertRepository"]
