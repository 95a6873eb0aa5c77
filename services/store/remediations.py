"""Remediation actions (``remediation_actions``) with fenced, leased claims, and what
remediation learnt about each connection (``remediation_connections``).

One document per approved action (``_id`` is the action's id). A worker claims an open
action with ``find_one_and_update`` when its lease is free or expired; the claim increments
``lease_token``. Every later write is conditional on that token (and renews the lease), so a
worker whose lease was taken over can no longer change the action — like the sync leases
(ADR 003). ``begin_call`` moves PENDING → CALLING only while the action is still PENDING, and
``cancel`` moves PENDING → CANCELLED only while it is: whichever comes first wins, so an
action is never both cancelled and called.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from services.remediation.models import (
    ActionKind,
    ActionSource,
    ActionState,
    ActionStep,
    CallRecord,
    Channel,
    Claim,
    ConnectionState,
    Observation,
    Refusal,
    RemediationAction,
    SourceType,
    Verification,
)
from services.store.common import aware, free_lease, from_doc, lease_first, newest_first, to_doc
from services.store.snapshot_layers import SnapshotLayers, split

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_WORKING = [ActionState.PENDING.value, ActionState.CALLING.value, ActionState.DONE.value]
_FINISHED = [ActionState.VERIFIED.value, ActionState.FAILED.value, ActionState.CANCELLED.value]
_REAPPROVABLE = [ActionState.FAILED.value, ActionState.CANCELLED.value]
# Work left: an action to call, to go on calling or to verify, or a finished one whose
# evidence record is not written yet (its worker died between the two writes).
_OPEN = {
    "$or": [
        {"state": {"$in": _WORKING}},
        {"state": {"$in": _FINISHED}, "evidence_id": None},
    ]
}
_FRESH: dict[str, Any] = {
    "calls": [],
    "read_backs": [],
    "error": None,
    "cancel_reason": None,
    "cancelled_by": None,
    "evidence_id": None,
    "lease_owner": None,
    "lease_expires_at": _EPOCH,
}


class RemediationRepository:
    """Persistence of approved remediation actions, their leases, and connection state."""

    def __init__(self, db: Any, layers: SnapshotLayers | None = None) -> None:
        self._col = db["remediation_actions"]
        self._connections = db["remediation_connections"]
        self._memberships = db["snapshot_memberships"]
        self._groups = db["snapshot_groups"]
        self._layers = layers or SnapshotLayers(db)

    async def ensure_indexes(self) -> None:
        """Claims scan an organization's open actions; lists page by approval time; the
        planner finds the latest occurrence of a change by its call key."""
        await self._col.create_index([("organization_id", 1), ("state", 1), ("approved_at", 1)])
        await self._col.create_index([("organization_id", 1), ("approved_at", -1), ("_id", -1)])
        await self._col.create_index([("organization_id", 1), ("call_key", 1), ("occurrence", -1)])

    async def approve(
        self, actions: Sequence[RemediationAction], *, approved_by: str, now: datetime
    ) -> list[RemediationAction]:
        """Queue ``actions`` as PENDING: a new one as attempt 1, a FAILED or CANCELLED one
        (once its evidence is written) as its next attempt; any other is left as it is."""
        out = []
        for action in actions:
            approval = {
                "state": ActionState.PENDING.value,
                "approved_by": approved_by,
                "approved_at": now,
                "updated_at": now,
                **_FRESH,
            }
            await self._col.update_one(
                {"_id": action.id, "state": {"$in": _REAPPROVABLE}, "evidence_id": {"$ne": None}},
                {"$set": approval, "$inc": {"attempt": 1}},
            )
            doc = _doc(action)
            doc.pop("_id")
            await self._col.update_one(
                {"_id": action.id},
                {"$setOnInsert": {**doc, **approval, "attempt": 1, "lease_token": 0}},
                upsert=True,
            )
            stored = await self._col.find_one({"_id": action.id})
            out.append(_to_action(stored))
        return out

    async def claim(
        self, *, organization_id: str, owner: str, ttl: timedelta, now: datetime
    ) -> Claim | None:
        """Take the oldest open action whose lease is free or expired (token + 1)."""
        doc = await lease_first(
            self._col,
            {"organization_id": organization_id, "$and": [_OPEN, free_lease(now, "lease_")]},
            order="approved_at",
            owner=owner,
            ttl=ttl,
            now=now,
        )
        return Claim(_to_action(doc), int(doc["lease_token"])) if doc else None

    async def begin_call(
        self, claim: Claim, *, now: datetime, lease_until: datetime
    ) -> RemediationAction | None:
        """PENDING → CALLING, fenced; None when the lease was lost or the action is no
        longer PENDING (cancelled meanwhile): then nothing may be called."""
        doc = await self._col.find_one_and_update(
            {
                "_id": claim.action.id,
                "lease_token": claim.token,
                "state": ActionState.PENDING.value,
            },
            {
                "$set": {
                    "state": ActionState.CALLING.value,
                    "updated_at": now,
                    "lease_expires_at": lease_until,
                }
            },
            return_document=ReturnDocument.AFTER,
        )
        return _to_action(doc) if doc else None

    async def record(
        self, claim: Claim, step: ActionStep, *, now: datetime, lease_until: datetime | None = None
    ) -> RemediationAction | None:
        """Move a claimed action on (and renew its lease until ``lease_until``); None when
        fenced out."""
        fields: dict[str, Any] = {"state": step.state.value, "updated_at": now, "error": step.error}
        if step.cancel_reason is not None:
            fields["cancel_reason"] = step.cancel_reason
        if lease_until is not None:
            fields["lease_expires_at"] = lease_until
        update: dict[str, Any] = {"$set": fields}
        pushed: dict[str, Any] = {}
        if step.calls:
            pushed["calls"] = {"$each": [asdict(c) for c in step.calls]}
        if step.read_back is not None:
            pushed["read_backs"] = _read_back_doc(step.read_back)
        if pushed:
            update["$push"] = pushed
        doc = await self._col.find_one_and_update(
            {"_id": claim.action.id, "lease_token": claim.token},
            update,
            return_document=ReturnDocument.AFTER,
        )
        return _to_action(doc) if doc else None

    async def cancel(
        self, actions: Sequence[RemediationAction], *, reason: str, cancelled_by: str, now: datetime
    ) -> list[RemediationAction]:
        """PENDING → CANCELLED for each of ``actions`` still PENDING; the lease token moves
        on, so a worker that claimed one writes nothing more. The actions cancelled."""
        out = []
        for action in actions:
            doc = await self._col.find_one_and_update(
                {
                    "_id": action.id,
                    "organization_id": action.organization_id,
                    "state": ActionState.PENDING.value,
                },
                {
                    "$set": {
                        "state": ActionState.CANCELLED.value,
                        "cancel_reason": reason,
                        "cancelled_by": cancelled_by,
                        "updated_at": now,
                        "lease_owner": None,
                        "lease_expires_at": _EPOCH,
                    },
                    "$inc": {"lease_token": 1},
                },
                return_document=ReturnDocument.AFTER,
            )
            if doc is not None:
                out.append(_to_action(doc))
        return out

    async def open_organizations(self, *, now: datetime) -> list[str]:
        """Organizations with an open action nobody holds (never claimed, or lease expired)."""
        query = {"$and": [_OPEN, free_lease(now, "lease_")]}
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

    async def latest_occurrences(
        self, *, organization_id: str, call_keys: Sequence[str]
    ) -> dict[str, RemediationAction]:
        """The stored action of the highest occurrence of each change in ``call_keys``."""
        keys = list(call_keys)
        query = {
            "organization_id": organization_id,
            "$or": [{"call_key": {"$in": keys}}, {"call_key": None, "_id": {"$in": keys}}],
        }
        found: dict[str, RemediationAction] = {}
        async for doc in self._col.find(query):
            action = _to_action(doc)
            known = found.get(action.call_key)
            if known is None or action.occurrence > known.occurrence:
                found[action.call_key] = action
        return found

    async def evidence_refs(self, *, organization_id: str) -> list[tuple[str, str | None]]:
        """(action id, evidence record id or None) of every approved action: what anchors
        remediation records in the evidence chain."""
        query = {"organization_id": organization_id}
        cursor = self._col.find(query, {"evidence_id": 1})
        return [(str(d["_id"]), d.get("evidence_id")) async for d in cursor]

    async def iter_actions(self, *, organization_id: str) -> AsyncIterator[RemediationAction]:
        """Every action of the organization, oldest approval first (a cursor)."""
        cursor = self._col.find({"organization_id": organization_id}, batch_size=500)
        async for doc in cursor.sort([("approved_at", 1), ("_id", 1)]):
            yield _to_action(doc)

    async def list_actions(
        self, *, organization_id: str, limit: int, before: tuple[datetime, str] | None
    ) -> tuple[list[RemediationAction], int]:
        """Up to ``limit`` actions, newest approval first, strictly before ``before``."""
        query = {"organization_id": organization_id}
        total = int(await self._col.count_documents(query))
        docs = await newest_first(self._col, query, "approved_at", before, limit)
        return [_to_action(d) for d in docs], total

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

    async def group_members(
        self, *, snapshot_id: str, group_ids: Sequence[str]
    ) -> dict[str, set[str]]:
        """The account ids of each group in a snapshot (of a layer: its memberships of the
        accounts it decides, its base's of every other account; ADR 020)."""
        sources: list[tuple[str, set[str] | None]] = [(snapshot_id, None)]
        layer = await self._layers.layer(snapshot_id)
        if layer is not None and layer.base_id is not None:
            sources = [(layer.base_id, set(layer.accounts)), (snapshot_id, None)]
        found: dict[str, set[str]] = {g: set() for g in group_ids}
        projection = {"account_id": 1, "group_id": 1}
        for snapshot, skip in sources:
            query = {"snapshot_id": snapshot, "group_id": {"$in": list(group_ids)}}
            async for doc in self._memberships.find(query, projection):
                if skip is None or doc["account_id"] not in skip:
                    found.setdefault(doc["group_id"], set()).add(doc["account_id"])
        return found

    async def synced_groups(self, *, snapshot_id: str, group_ids: Sequence[str]) -> set[str]:
        """The groups among ``group_ids`` that the snapshot shows as synced from an identity
        provider (``managedBy`` EXTERNAL); of a layer, the groups it decides as it holds them
        and every other as its base does (ADR 020)."""
        parts = [(snapshot_id, list(group_ids))]
        layer = await self._layers.layer(snapshot_id)
        if layer is not None and layer.base_id is not None:
            decided = set(layer.groups)
            mine = [g for g in group_ids if g in decided]
            parts = [
                (snapshot_id, mine),
                (layer.base_id, [g for g in group_ids if g not in decided]),
            ]
        found = set()
        for snapshot, ids in parts:
            query = {"snapshot_id": snapshot, "group_id": {"$in": ids}}
            async for doc in self._groups.find(query, {"group_id": 1, "managed_by": 1}):
                managed_by = doc.get("managed_by")
                if isinstance(managed_by, str) and managed_by.lower() == "external":
                    found.add(doc["group_id"])
        return found

    # ----- connections ------------------------------------------------------------------

    async def connection(self, *, integration_id: str) -> ConnectionState:
        """What is known of an integration's connection (nothing yet: an empty state)."""
        doc = await self._connections.find_one({"_id": integration_id})
        return _to_connection(doc) if doc else ConnectionState(integration_id)

    async def learn_account(
        self, *, organization_id: str, integration_id: str, account_id: str
    ) -> None:
        """Remember the account the connection acts as."""
        await self._ensure_connection(organization_id, integration_id)
        await self._connections.update_one(
            {"_id": integration_id}, {"$set": {"account_id": account_id}}
        )

    async def refuse(
        self, *, organization_id: str, integration_id: str, refusal: Refusal
    ) -> ConnectionState:
        """Block a channel of the connection (the first refusal of a channel is kept)."""
        await self._ensure_connection(organization_id, integration_id)
        entry = {**asdict(refusal), "channel": refusal.channel.value}
        await self._connections.update_one(
            {"_id": integration_id, "refusals.channel": {"$ne": refusal.channel.value}},
            {"$push": {"refusals": entry}},
        )
        return await self.connection(integration_id=integration_id)

    async def clear_refusals(self, *, integration_id: str) -> None:
        """Unblock every channel of the connection (it was re-consented)."""
        await self._connections.update_one({"_id": integration_id}, {"$set": {"refusals": []}})

    async def _ensure_connection(self, organization_id: str, integration_id: str) -> None:
        with suppress(DuplicateKeyError):  # two first writers: the other one inserted it
            await self._connections.update_one(
                {"_id": integration_id},
                {
                    "$setOnInsert": {
                        "organization_id": organization_id,
                        "account_id": None,
                        "refusals": [],
                    }
                },
                upsert=True,
            )


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
        "target": a.target,
        "role": a.role,
        "resource": a.resource,
        "directories": list(a.directories),
        "reason": a.reason,
        "caveat": a.caveat,
        "occurrence": a.occurrence,
        "call_key": a.call_key,
        "source": {k: (v.value if k == "type" else v) for k, v in asdict(a.source).items()},
    }


def _read_back_doc(v: Verification) -> dict[str, Any]:
    return to_doc(v, observed=[asdict(o) for o in v.observed])


def _to_read_back(doc: Mapping[str, Any]) -> Verification:
    return Verification(
        endpoint=doc["endpoint"],
        confirmed=bool(doc["confirmed"]),
        detail=doc["detail"],
        at=aware(doc["at"]) or _EPOCH,
        observed=tuple(Observation(**o) for o in doc.get("observed") or ()),
    )


def _to_action(doc: Mapping[str, Any]) -> RemediationAction:
    source = dict(doc["source"])
    read_backs = list(doc.get("read_backs") or ())
    if not read_backs and doc.get("verification"):  # stored before read-backs were kept
        read_backs = [doc["verification"]]
    return from_doc(
        RemediationAction,
        doc,
        display_name=doc.get("display_name"),
        kind=ActionKind(doc["kind"]),
        target=doc.get("target") or doc["group_id"],
        directories=tuple(doc.get("directories") or ()),
        occurrence=int(doc.get("occurrence") or 0),
        call_key=doc.get("call_key") or doc["_id"],
        source=ActionSource(**{**source, "type": SourceType(source["type"])}),
        state=ActionState(doc["state"]),
        attempt=int(doc.get("attempt") or 1),
        approved_at=aware(doc.get("approved_at")),
        updated_at=aware(doc.get("updated_at")),
        calls=tuple(CallRecord(**{**c, "at": aware(c["at"])}) for c in doc.get("calls") or ()),
        read_backs=tuple(_to_read_back(r) for r in read_backs),
    )


def _to_connection(doc: Mapping[str, Any]) -> ConnectionState:
    refusals = tuple(
        Refusal(
            channel=Channel(r["channel"]),
            reason=r["reason"],
            status=r.get("status"),
            message=r.get("message") or "",
            at=aware(r["at"]) or _EPOCH,
            action_id=r.get("action_id") or "",
        )
        for r in doc.get("refusals") or ()
    )
    return ConnectionState(doc["_id"], doc.get("account_id"), refusals)


__all__ = ["RemediationRepository"]
