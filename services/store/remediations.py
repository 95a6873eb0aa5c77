"""Remediation actions (``remediation_actions``) with fenced, leased claims.

One document per approved action (``_id`` is the action's stable id). A worker claims an
action with ``find_one_and_update`` that only matches a PENDING or DONE (not yet verified)
action whose lease is free or expired; the claim increments ``lease_token``. Every later
write is conditional on that token, so a worker whose lease expired (and was taken over)
can no longer change the action — like the sync leases (ADR 003).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ReturnDocument

from services.remediation.models import (
    ActionKind,
    ActionSource,
    ActionState,
    CallRecord,
    Claim,
    RemediationAction,
    SourceType,
    Verification,
)
from services.store.snapshot_layers import SnapshotLayers, split

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CLAIMABLE = [ActionState.PENDING.value, ActionState.DONE.value]
_FINISHED = [ActionState.VERIFIED.value, ActionState.FAILED.value]
# Work left: an action to carry out or verify, or a finished one whose evidence record is not
# written yet (its worker died between the two writes: evidence is never lost).
_OPEN = {
    "$or": [
        {"state": {"$in": _CLAIMABLE}},
        {"state": {"$in": _FINISHED}, "evidence_id": None},
    ]
}


class RemediationRepository:
    """Persistence of approved remediation actions and their leases."""

    def __init__(self, db: Any, layers: SnapshotLayers | None = None) -> None:
        self._col = db["remediation_actions"]
        self._memberships = db["snapshot_memberships"]
        self._layers = layers or SnapshotLayers(db)

    async def ensure_indexes(self) -> None:
        """Claims scan an organization's open actions; lists page by approval time."""
        await self._col.create_index([("organization_id", 1), ("state", 1), ("approved_at", 1)])
        await self._col.create_index([("organization_id", 1), ("approved_at", -1), ("_id", -1)])

    async def approve(
        self, actions: Sequence[RemediationAction], *, approved_by: str, now: datetime
    ) -> list[RemediationAction]:
        """Queue ``actions`` as PENDING: a new or FAILED action is (re)queued, others kept."""
        out = []
        for action in actions:
            doc = _doc(action)
            doc.update(
                state=ActionState.PENDING.value,
                approved_by=approved_by,
                approved_at=now,
                updated_at=now,
                calls=[],
                verification=None,
                error=None,
                evidence_id=None,
                lease_owner=None,
                lease_expires_at=_EPOCH,
            )
            doc.pop("_id")
            # A failure is re-queued once its evidence is written (never dropping that record).
            await self._col.update_one(
                {"_id": action.id, "state": ActionState.FAILED.value, "evidence_id": {"$ne": None}},
                {"$set": doc},
            )
            await self._col.update_one(
                {"_id": action.id},
                {"$setOnInsert": {**doc, "lease_token": 0}},
                upsert=True,
            )
            stored = await self._col.find_one({"_id": action.id})
            out.append(_to_action(stored))
        return out

    async def claim(
        self, *, organization_id: str, owner: str, ttl: timedelta, now: datetime
    ) -> Claim | None:
        """Take the oldest open action whose lease is free or expired (token + 1)."""
        doc = await self._col.find_one_and_update(
            {"organization_id": organization_id, "$and": [_OPEN, _free(now)]},
            {
                "$set": {"lease_owner": owner, "lease_expires_at": now + ttl},
                "$inc": {"lease_token": 1},
            },
            sort=[("approved_at", 1), ("_id", 1)],
            return_document=ReturnDocument.AFTER,
        )
        return Claim(_to_action(doc), int(doc["lease_token"])) if doc else None

    async def record(
        self,
        claim: Claim,
        *,
        state: ActionState,
        now: datetime,
        calls: Sequence[CallRecord] = (),
        verification: Verification | None = None,
        error: str | None = None,
    ) -> RemediationAction | None:
        """Move a claimed action on; None when the claim was fenced out (lease taken over)."""
        update: dict[str, Any] = {
            "$set": {
                "state": state.value,
                "updated_at": now,
                "error": error,
                **({"verification": asdict(verification)} if verification else {}),
            }
        }
        if calls:
            update["$push"] = {"calls": {"$each": [asdict(c) for c in calls]}}
        doc = await self._col.find_one_and_update(
            {"_id": claim.action.id, "lease_token": claim.token},
            update,
            return_document=ReturnDocument.AFTER,
        )
        return _to_action(doc) if doc else None

    async def open_organizations(self, *, now: datetime) -> list[str]:
        """Organizations with an open action nobody holds (never claimed, or lease expired)."""
        query = {"$and": [_OPEN, _free(now)]}
        return sorted(
            {d["organization_id"] async for d in self._col.find(query, {"organization_id": 1})}
        )

    async def set_evidence(self, claim: Claim, *, evidence_id: str) -> None:
        """Remember the evidence record of a finished action and release its lease (fenced)."""
        await self._col.update_one(
            {"_id": claim.action.id, "lease_token": claim.token},
            {
                "$set": {
                    "evidence_id": evidence_id,
                    "lease_owner": None,
                    "lease_expires_at": _EPOCH,
                }
            },
        )

    async def get_many(
        self, *, organization_id: str, action_ids: Sequence[str]
    ) -> dict[str, RemediationAction]:
        """The stored actions among ``action_ids`` (of the organization), by id."""
        query = {"organization_id": organization_id, "_id": {"$in": list(action_ids)}}
        return {d["_id"]: _to_action(d) async for d in self._col.find(query)}

    async def list_actions(
        self, *, organization_id: str, limit: int, before: tuple[datetime, str] | None
    ) -> tuple[list[RemediationAction], int]:
        """Up to ``limit`` actions, newest approval first, strictly before ``before``."""
        query: dict[str, Any] = {"organization_id": organization_id}
        total = int(await self._col.count_documents(query))
        if before is not None:
            at, key = before
            query["$or"] = [
                {"approved_at": {"$lt": at}},
                {"approved_at": at, "_id": {"$lt": key}},
            ]
        cursor = self._col.find(query).sort([("approved_at", -1), ("_id", -1)]).limit(limit)
        return [_to_action(d) async for d in cursor], total

    async def memberships(
        self, *, snapshot_id: str, account_ids: Sequence[str]
    ) -> dict[str, list[tuple[str, str]]]:
        """``(group_id, group_name)`` of each account in a snapshot (one indexed query; two
        for a snapshot that is a layer over a full one: ADR 020)."""
        parts = [(snapshot_id, list(account_ids))]
        layer = await self._layers.layer(snapshot_id)
        if layer is not None and layer.base_id is not None:
            mine, others = split(account_ids, layer)
            parts = [(snapshot_id, mine), (layer.base_id, others)]
        found: dict[str, list[tuple[str, str]]] = {}
        projection = {"account_id": 1, "group_id": 1, "group_name": 1}
        for snapshot, ids in parts:
            query = {"snapshot_id": snapshot, "account_id": {"$in": ids}}
            async for doc in self._memberships.find(query, projection):
                found.setdefault(doc["account_id"], []).append((doc["group_id"], doc["group_name"]))
        return {a: sorted(set(groups), key=lambda g: (g[1], g[0])) for a, groups in found.items()}


def _free(now: datetime) -> dict[str, Any]:
    """Nobody holds the lease (never claimed, released, or expired)."""
    return {"$or": [{"lease_expires_at": {"$lte": now}}, {"lease_owner": None}]}


def _doc(a: RemediationAction) -> dict[str, Any]:
    return {
        "_id": a.id,
        "organization_id": a.organization_id,
        "integration_id": a.integration_id,
        "account_id": a.account_id,
        "display_name": a.display_name,
        "kind": a.kind.value,
        "group_id": a.group_id,
        "group_name": a.group_name,
        "reason": a.reason,
        "source": {k: (v.value if k == "type" else v) for k, v in asdict(a.source).items()},
    }


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _to_action(doc: Mapping[str, Any]) -> RemediationAction:
    source = dict(doc["source"])
    verification = doc.get("verification")
    return RemediationAction(
        id=doc["_id"],
        organization_id=doc["organization_id"],
        integration_id=doc["integration_id"],
        account_id=doc["account_id"],
        display_name=doc.get("display_name"),
        kind=ActionKind(doc["kind"]),
        group_id=doc["group_id"],
        group_name=doc["group_name"],
        reason=doc["reason"],
        source=ActionSource(**{**source, "type": SourceType(source["type"])}),
        state=ActionState(doc["state"]),
        approved_by=doc.get("approved_by"),
        approved_at=_aware(doc.get("approved_at")),
        updated_at=_aware(doc.get("updated_at")),
        calls=tuple(CallRecord(**{**c, "at": _aware(c["at"])}) for c in doc.get("calls") or ()),
        verification=(
            Verification(**{**verification, "at": _aware(verification["at"])})
            if verification
            else None
        ),
        error=doc.get("error"),
        evidence_id=doc.get("evidence_id"),
    )


__all__ = ["RemediationRepository"]
