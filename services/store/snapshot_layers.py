"""Snapshot manifests: how each ACCESS_REVIEW snapshot is stored (ADR 020).

``snapshot_layers`` holds one document per snapshot written since the change watch exists:
``{_id: snapshot_id, base_id, accounts, groups, facts}``. A full sync's snapshot holds all of
its documents itself (``base_id`` null) and records what the sync learned of the site
(``facts``: cloud id, directories, role-read bookkeeping). A targeted run's snapshot is a
*layer* over a full one: it holds the documents of the accounts and groups re-read or
re-judged since that full sync — ``accounts`` and ``groups`` list every such id, whether the
layer holds a document for it or it is gone — and every other document is the base's.

A manifest never changes once written (it is written before its snapshot becomes current),
so readers cache them. A snapshot without one (older than this module) is a full one.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from services.sync.models import SiteFacts, SnapshotManifest

_CACHED = 512


class SnapshotLayers:
    """Reads (cached) and writes of snapshot manifests."""

    def __init__(self, db: Any) -> None:
        self._col = db["snapshot_layers"]
        self._cache: OrderedDict[str, SnapshotManifest | None] = OrderedDict()

    async def ensure_indexes(self) -> None:
        """Retention asks which snapshots are layers over a given base."""
        await self._col.create_index("base_id")

    async def manifest(self, snapshot_id: str) -> SnapshotManifest | None:
        """The snapshot's manifest; None for a snapshot stored before manifests existed (or a
        POLICY snapshot): a full one."""
        if snapshot_id in self._cache:
            self._cache.move_to_end(snapshot_id)
            return self._cache[snapshot_id]
        doc = await self._col.find_one({"_id": snapshot_id})
        manifest = to_manifest(doc) if doc else None
        self._remember(snapshot_id, manifest)
        return manifest

    async def layer(self, snapshot_id: str) -> SnapshotManifest | None:
        """The snapshot's manifest if it is a layer over a full snapshot, else None."""
        manifest = await self.manifest(snapshot_id)
        return manifest if manifest is not None and manifest.layered else None

    async def write(self, manifest: SnapshotManifest) -> None:
        """Record a manifest (before its snapshot is made current)."""
        doc = manifest_doc(manifest)
        await self._col.replace_one({"_id": manifest.snapshot_id}, doc, upsert=True)
        self._remember(manifest.snapshot_id, manifest)

    async def delete(self, snapshot_id: str) -> None:
        """Forget a deleted snapshot's manifest."""
        await self._col.delete_one({"_id": snapshot_id})
        self._cache.pop(snapshot_id, None)

    async def bases(self, snapshot_ids: Collection[str]) -> dict[str, str]:
        """The base of each of ``snapshot_ids`` that is a layer."""
        query = {"_id": {"$in": list(snapshot_ids)}, "base_id": {"$ne": None}}
        return {d["_id"]: d["base_id"] async for d in self._col.find(query, {"base_id": 1})}

    def _remember(self, snapshot_id: str, manifest: SnapshotManifest | None) -> None:
        self._cache[snapshot_id] = manifest
        self._cache.move_to_end(snapshot_id)
        while len(self._cache) > _CACHED:
            self._cache.popitem(last=False)


def split(ids: Iterable[str], layer: SnapshotManifest) -> tuple[list[str], list[str]]:
    """``ids`` the layer decides (re-read or re-judged) and those its base holds."""
    touched = set(layer.accounts)
    mine: list[str] = []
    base: list[str] = []
    for i in ids:
        (mine if i in touched else base).append(i)
    return mine, base


def manifest_doc(m: SnapshotManifest) -> dict[str, Any]:
    """A manifest as stored."""
    doc: dict[str, Any] = {
        "_id": m.snapshot_id,
        "base_id": m.base_id,
        "accounts": list(m.accounts),
        "groups": list(m.groups),
        "facts": None,
        "events_until": m.events_until,
    }
    if m.facts is not None:
        f = m.facts
        doc["facts"] = {
            "cloud_id": f.cloud_id,
            "directories": list(f.directories),
            "site_directory": f.site_directory,
            "single_directory": f.single_directory,
            "wanted_reads": f.wanted_reads,
            "reads_overflow": f.reads_overflow,
            "first_with_access": f.first_with_access,
        }
    return doc


def to_manifest(doc: Mapping[str, Any]) -> SnapshotManifest:
    """A stored manifest."""
    raw = doc.get("facts")
    facts = None
    if isinstance(raw, Mapping):
        facts = SiteFacts(
            cloud_id=str(raw.get("cloud_id") or ""),
            directories=tuple(raw.get("directories") or ()),
            site_directory=raw.get("site_directory"),
            single_directory=bool(raw.get("single_directory")),
            wanted_reads=int(raw.get("wanted_reads") or 0),
            reads_overflow=bool(raw.get("reads_overflow")),
            first_with_access=raw.get("first_with_access"),
        )
    return SnapshotManifest(
        snapshot_id=doc["_id"],
        base_id=doc.get("base_id"),
        accounts=tuple(doc.get("accounts") or ()),
        groups=tuple(doc.get("groups") or ()),
        facts=facts,
        events_until=doc.get("events_until"),
    )


__all__ = ["SnapshotLayers", "split"]
