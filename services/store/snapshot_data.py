"""Snapshot data: accounts, groups and pages, each document tagged with its ``snapshot_id``.

A sync run writes pages of results here as they arrive (bulk upserts keyed by
``{snapshot_id}:{natural id}``, so a re-fetched page is idempotent). Nothing here is visible
to queries until the run's snapshot is made current (``LeaseRepository.commit_snapshot``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pymongo import UpdateOne
from pymongo.errors import BulkWriteError

from services.confluence.models import AccountStatus, BulkUser, DirectoryUser, Group, Member, Page
from services.sync.models import SnapshotCounts

_DUPLICATE_KEY = 11000


@dataclass(frozen=True, slots=True)
class SnapshotScope:
    """Which snapshot (and whose) a write belongs to."""

    snapshot_id: str
    integration_id: str
    organization_id: str

    def key(self, natural_id: str) -> str:
        """The document id of an item in this snapshot."""
        return f"{self.snapshot_id}:{natural_id}"

    def tags(self) -> dict[str, str]:
        """The fields every document of this snapshot carries."""
        return {
            "snapshot_id": self.snapshot_id,
            "integration_id": self.integration_id,
            "organization_id": self.organization_id,
        }


class SnapshotDataRepository:
    """Writes of snapshot data (``snapshot_accounts``, ``snapshot_groups``, ``snapshot_pages``)."""

    def __init__(self, db: Any) -> None:
        self._accounts = db["snapshot_accounts"]
        self._groups = db["snapshot_groups"]
        self._pages = db["snapshot_pages"]

    async def ensure_indexes(self) -> None:
        """Indexes for the reads of ``SnapshotQueryRepository`` and for deletion by snapshot."""
        await self._accounts.create_index([("snapshot_id", 1), ("account_id", 1)])
        await self._accounts.create_index([("snapshot_id", 1), ("groups", 1), ("account_id", 1)])
        await self._accounts.create_index(
            [("snapshot_id", 1), ("account_status", 1), ("account_id", 1)]
        )
        await self._accounts.create_index([("snapshot_id", 1), ("is_admin", 1), ("account_id", 1)])
        await self._groups.create_index([("snapshot_id", 1), ("name", 1)])
        await self._pages.create_index([("snapshot_id", 1), ("page_id", 1)])
        await self._pages.create_index([("snapshot_id", 1), ("labels", 1), ("page_id", 1)])
        await self._pages.create_index([("snapshot_id", 1), ("space_key", 1), ("page_id", 1)])

    async def upsert_groups(self, scope: SnapshotScope, groups: Sequence[Group]) -> None:
        """Record a page of groups."""
        ops = [
            UpdateOne(
                {"_id": scope.key(g.id)},
                {"$set": {**scope.tags(), "group_id": g.id, "name": g.name}},
                upsert=True,
            )
            for g in groups
        ]
        await _bulk(self._groups, ops)

    async def add_members(
        self, scope: SnapshotScope, group_name: str, members: Sequence[Member]
    ) -> None:
        """Record a page of a group's members: upsert each account, add the group to it."""
        ops = [
            UpdateOne(
                {"_id": scope.key(m.account_id)},
                {
                    "$set": {
                        **scope.tags(),
                        "account_id": m.account_id,
                        "display_name": m.display_name,
                        "email": m.email,
                        "account_type": m.account_type.value,
                    },
                    "$addToSet": {"groups": group_name},
                    "$setOnInsert": {
                        "account_status": AccountStatus.UNKNOWN.value,
                        "is_admin": False,
                        "mfa_enabled": None,
                        "last_active_at": None,
                    },
                },
                upsert=True,
            )
            for m in members
        ]
        await _bulk(self._accounts, ops)

    async def apply_users(self, scope: SnapshotScope, users: Sequence[BulkUser]) -> None:
        """Set type, status and visible email from a users-bulk batch (known accounts only)."""
        ops = [
            UpdateOne(
                {"_id": scope.key(u.account_id)},
                {
                    "$set": {
                        "account_type": u.account_type.value,
                        "account_status": u.account_status.value,
                        "email": u.email,
                        "display_name": u.display_name or None,
                    }
                },
            )
            for u in users
        ]
        await _bulk(self._accounts, ops)

    async def apply_directory(self, scope: SnapshotScope, users: Sequence[DirectoryUser]) -> None:
        """Set MFA, last active and authoritative status from an Admin API page."""
        ops = []
        for u in users:
            fields: dict[str, Any] = {"mfa_enabled": u.mfa_enabled, "in_directory": True}
            if u.last_active is not None:
                fields["last_active_at"] = u.last_active
            if u.account_status is not AccountStatus.UNKNOWN:
                fields["account_status"] = u.account_status.value
            ops.append(UpdateOne({"_id": scope.key(u.account_id)}, {"$set": fields}))
        await _bulk(self._accounts, ops)

    async def mark_admins(self, scope: SnapshotScope, admin_groups: Sequence[str]) -> None:
        """Flag members of the admin groups (one write for the whole snapshot)."""
        await self._accounts.update_many(
            {"snapshot_id": scope.snapshot_id, "groups": {"$in": list(admin_groups)}},
            {"$set": {"is_admin": True}},
        )

    async def upsert_pages(self, scope: SnapshotScope, pages: Sequence[Page]) -> None:
        """Record a page of search results."""
        ops = [
            UpdateOne({"_id": scope.key(p.id)}, {"$set": {**scope.tags(), **_page_doc(p)}}, upsert=True)
            for p in pages
        ]
        await _bulk(self._pages, ops)

    async def counts(self, snapshot_id: str) -> SnapshotCounts:
        """How many accounts, groups, memberships and pages the snapshot holds."""
        query = {"snapshot_id": snapshot_id}
        pipeline = [
            {"$match": query},
            {"$group": {"_id": None, "n": {"$sum": {"$size": "$groups"}}}},
        ]
        rows = await self._accounts.aggregate(pipeline).to_list(None)
        return SnapshotCounts(
            accounts=int(await self._accounts.count_documents(query)),
            groups=int(await self._groups.count_documents(query)),
            memberships=int(rows[0]["n"]) if rows else 0,
            pages=int(await self._pages.count_documents(query)),
        )

    async def delete_snapshot(self, snapshot_id: str) -> None:
        """Delete every document of a snapshot (retention, failed runs)."""
        for col in (self._accounts, self._groups, self._pages):
            await col.delete_many({"snapshot_id": snapshot_id})


def _page_doc(p: Page) -> dict[str, Any]:
    return {
        "page_id": p.id,
        "title": p.title,
        "status": p.status,
        "space_key": p.space_key,
        "space_name": p.space_name,
        "version": p.version_number,
        "last_modified_at": p.last_modified_at,
        "last_modified_by": p.last_modified_by,
        "created_at": p.created_at,
        "created_by": p.created_by,
        "labels": list(p.labels),
        "web_url": p.web_url,
        "body_storage": p.body_storage,
    }


async def _bulk(col: Any, ops: list[UpdateOne]) -> None:
    """Unordered bulk write; upserts that raced another upsert of the same id are retried once."""
    if not ops:
        return
    try:
        await col.bulk_write(ops, ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if not errors or any(e.get("code") != _DUPLICATE_KEY for e in errors):
            raise
        await col.bulk_write([ops[e["index"]] for e in errors], ordered=False)


__all__ = ["SnapshotDataRepository", "SnapshotScope"]
