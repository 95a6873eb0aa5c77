"""What a targeted run reads of the current snapshot and writes as its layer (ADR 020).

Reads resolve a layered snapshot like ``SnapshotQueryRepository`` does: a key the layer lists
(an account id, a group id) is read from the layer, any other from its base. Writes are one
layer: the documents of the accounts and groups it lists, its manifest and its counts (the
base's recorded counts, less what the layer shadows, plus what it holds) — never a copy of
the base.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from typing import Any

from services.store.snapshot_data import (
    account_doc,
    directory_doc,
    tally_doc,
    to_directory_entry,
    to_tally,
)
from services.store.snapshot_layers import SnapshotLayers
from services.store.snapshot_queries import to_account
from services.sync.models import (
    DirectoryEntry,
    LayerWrite,
    SnapshotAccount,
    SnapshotCounts,
    SnapshotGroup,
    SnapshotManifest,
    StoredGroup,
)


class SnapshotRefreshRepository:
    """Layered reads of one snapshot and the write of a layer."""

    def __init__(self, db: Any, layers: SnapshotLayers | None = None) -> None:
        self._layers = layers or SnapshotLayers(db)
        self._accounts = db["snapshot_accounts"]
        self._memberships = db["snapshot_memberships"]
        self._directory = db["snapshot_directory"]
        self._groups = db["snapshot_groups"]
        self._counts = db["snapshot_counts"]

    async def ensure_indexes(self) -> None:
        """Nothing of its own (``SnapshotDataRepository`` and ``SnapshotLayers`` have them)."""

    async def manifest(self, snapshot_id: str) -> SnapshotManifest | None:
        """How the snapshot is stored (None: a full snapshot older than manifests)."""
        return await self._layers.manifest(snapshot_id)

    async def accounts(
        self, snapshot_id: str, account_ids: Collection[str]
    ) -> dict[str, SnapshotAccount]:
        """Each of ``account_ids`` the snapshot holds."""
        docs = self._by_account(self._accounts, snapshot_id, account_ids)
        return {account_id: to_account(doc) async for account_id, doc in docs}

    async def directory(
        self, snapshot_id: str, account_ids: Collection[str]
    ) -> dict[str, DirectoryEntry]:
        """The directory entry (with role facts) of each of ``account_ids`` it lists."""
        docs = self._by_account(self._directory, snapshot_id, account_ids)
        return {account_id: to_directory_entry(doc, account_id) async for account_id, doc in docs}

    async def memberships(
        self, snapshot_id: str, account_ids: Collection[str]
    ) -> dict[str, list[SnapshotGroup]]:
        """The groups of each of ``account_ids`` (as the snapshot's memberships say)."""
        found: dict[str, list[SnapshotGroup]] = {}
        projection = {"account_id": 1, "group_id": 1, "group_name": 1}
        for snapshot, ids in await self._parts(snapshot_id, account_ids):
            query = {"snapshot_id": snapshot, "account_id": {"$in": ids}}
            async for doc in self._memberships.find(query, projection):
                group = SnapshotGroup(doc["group_id"], doc["group_name"])
                found.setdefault(doc["account_id"], []).append(group)
        return found

    async def groups(self, snapshot_id: str) -> list[StoredGroup]:
        """Every group of the snapshot with its tally (a few hundred documents)."""
        layer = await self._layers.layer(snapshot_id)
        found: dict[str, StoredGroup] = {}
        sources: list[tuple[str, set[str] | None]] = [(snapshot_id, None)]
        if layer is not None and layer.base_id is not None:
            sources = [(layer.base_id, set(layer.groups)), (snapshot_id, None)]
        for snapshot, skip in sources:
            async for doc in self._groups.find({"snapshot_id": snapshot}):
                if skip is not None and doc["group_id"] in skip:
                    continue
                group = SnapshotGroup(doc["group_id"], doc["name"], doc.get("managed_by"))
                found[group.group_id] = StoredGroup(group, to_tally(doc.get("tally")))
        return sorted(found.values(), key=lambda g: g.group.group_id)

    async def members(self, snapshot_id: str, group_names: Collection[str]) -> set[str]:
        """The accounts of the snapshot that are members of any of ``group_names``."""
        names = list(group_names)
        if not names:
            return set()
        layer = await self._layers.layer(snapshot_id)
        sources: list[tuple[str, set[str] | None]] = [(snapshot_id, None)]
        if layer is not None and layer.base_id is not None:
            sources = [(layer.base_id, set(layer.accounts)), (snapshot_id, None)]
        found: set[str] = set()
        for snapshot, skip in sources:
            query = {"snapshot_id": snapshot, "groups": {"$in": names}}
            async for doc in self._accounts.find(query, {"account_id": 1}):
                if skip is None or doc["account_id"] not in skip:
                    found.add(doc["account_id"])
        return found

    async def write_layer(self, layer: LayerWrite) -> SnapshotCounts:
        """Write the layer: this run's documents, the previous layer's documents of what it
        did not change (carried over), its counts and its manifest; the counts.

        Counts move from the previous snapshot's by what this run changed (its documents
        there out, its documents here in), so no count scans the base."""
        scope, manifest, previous = layer.scope, layer.manifest, layer.previous_id
        assert manifest.base_id is not None
        changed = set(layer.changed_accounts)
        changed_groups = set(layer.changed_groups)
        carried = [a for a in manifest.accounts if a not in changed]
        carried_groups = [g for g in manifest.groups if g not in changed_groups]
        await self._carry(previous, scope.snapshot_id, carried, carried_groups)
        await _insert(self._accounts, [account_doc(scope, a) for a in layer.accounts])
        await _insert(self._directory, [directory_doc(scope, e) for e in layer.directory])
        memberships = [
            {
                "_id": scope.key(f"{group.group_id}:{account_id}"),
                "snapshot_id": scope.snapshot_id,
                "group_id": group.group_id,
                "group_name": group.name,
                "account_id": account_id,
            }
            for account_id, group in layer.memberships
        ]
        await _insert(self._memberships, memberships)
        await _insert(self._groups, [_group_doc(scope.snapshot_id, g) for g in layer.groups])
        before = await self._counts_of(previous)
        was_accounts = await self.accounts(previous, changed)
        was_memberships = await self.memberships(previous, changed)
        was_groups = {g.group.group_id for g in await self.groups(previous)}
        counts = SnapshotCounts(
            accounts=before.accounts - len(was_accounts) + len(layer.accounts),
            groups=before.groups - len(changed_groups & was_groups) + len(layer.groups),
            memberships=before.memberships
            - sum(len(v) for v in was_memberships.values())
            + len(layer.memberships),
        )
        doc_counts = {
            "accounts": counts.accounts,
            "groups": counts.groups,
            "memberships": counts.memberships,
            "pages": 0,
        }
        await self._counts.replace_one({"_id": scope.snapshot_id}, doc_counts, upsert=True)
        await self._layers.write(manifest)
        return counts

    async def _carry(
        self, previous: str, snapshot_id: str, accounts: list[str], groups: list[str]
    ) -> None:
        """Copy the previous layer's documents of ``accounts`` and ``groups`` into the new
        layer (what a targeted run did not change stays as the previous layer had it)."""
        if not accounts and not groups:
            return
        keys = [f"{previous}:{a}" for a in accounts]
        for col in (self._accounts, self._directory):
            docs = [
                _retagged(d, previous, snapshot_id) async for d in col.find({"_id": {"$in": keys}})
            ]
            await _insert(col, docs)
        query = {"snapshot_id": previous, "account_id": {"$in": accounts}}
        docs = [_retagged(d, previous, snapshot_id) async for d in self._memberships.find(query)]
        await _insert(self._memberships, docs)
        group_keys = [f"{previous}:{g}" for g in groups]
        docs = [
            _retagged(d, previous, snapshot_id)
            async for d in self._groups.find({"_id": {"$in": group_keys}})
        ]
        await _insert(self._groups, docs)

    async def _counts_of(self, snapshot_id: str) -> SnapshotCounts:
        doc = await self._counts.find_one({"_id": snapshot_id})
        if doc is None:
            query = {"snapshot_id": snapshot_id}
            return SnapshotCounts(
                accounts=int(await self._accounts.count_documents(query)),
                groups=int(await self._groups.count_documents(query)),
                memberships=int(await self._memberships.count_documents(query)),
            )
        return SnapshotCounts(
            accounts=int(doc.get("accounts", 0)),
            groups=int(doc.get("groups", 0)),
            memberships=int(doc.get("memberships", 0)),
        )

    async def _by_account(
        self, collection: Any, snapshot_id: str, account_ids: Collection[str]
    ) -> AsyncIterator[tuple[str, Mapping[str, Any]]]:
        """The documents of ``collection`` keyed ``<snapshot>:<account id>`` of each of
        ``account_ids``, read from the part of the snapshot that holds it, with the id."""
        for snapshot, ids in await self._parts(snapshot_id, account_ids):
            keys = [f"{snapshot}:{a}" for a in ids]
            async for doc in collection.find({"_id": {"$in": keys}}):
                yield doc["_id"][len(snapshot) + 1 :], doc

    async def _parts(
        self, snapshot_id: str, ids: Collection[str]
    ) -> list[tuple[str, Sequence[str]]]:
        """Which snapshot holds each id: ``[(snapshot, ids)]``."""
        layer = await self._layers.layer(snapshot_id)
        if layer is None or layer.base_id is None:
            return [(snapshot_id, list(ids))]
        touched = set(layer.accounts)
        mine = [i for i in ids if i in touched]
        others = [i for i in ids if i not in touched]
        return [(snapshot_id, mine), (layer.base_id, others)]


async def _insert(col: Any, docs: list[dict[str, Any]]) -> None:
    if docs:
        await col.insert_many(docs, ordered=False)


def _retagged(doc: dict[str, Any], previous: str, snapshot_id: str) -> dict[str, Any]:
    """A document of the previous layer as the new layer's (same natural key)."""
    return {
        **doc,
        "_id": snapshot_id + doc["_id"][len(previous) :],
        "snapshot_id": snapshot_id,
    }


def _group_doc(snapshot_id: str, stored: StoredGroup) -> dict[str, Any]:
    g = stored.group
    doc: dict[str, Any] = {
        "_id": f"{snapshot_id}:{g.group_id}",
        "snapshot_id": snapshot_id,
        "group_id": g.group_id,
        "name": g.name,
        "managed_by": g.managed_by,
    }
    if stored.tally is not None:
        doc["tally"] = tally_doc(stored.tally)
    return doc


__all__ = ["SnapshotRefreshRepository"]
