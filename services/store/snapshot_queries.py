"""Reads of snapshot data: filtered, paginated accounts and pages of one snapshot.

A page of a snapshot with orders (``snapshot_orders.py``; every full snapshot committed since
they exist) and at most one filter with a value of its own (a status, ``admin``, ``hasAccess``, a
type or a group;
a label or a space) reads the order and then the page's items by ``_id``, and its total is
the order's count. Anything else (a text search, several filters at once, a snapshot written
before orders) is a keyset query over the snapshot's indexes, its total a count: a scan of
the filter's index bounds within the snapshot. A targeted run's snapshot (a layer, ADR 020)
has no orders: its accounts are read over the layer and its base (``_list_layered``).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from typing import Any, TypeVar

from services.models import AccountStatus, AccountType, ClaimStatus, DirectoryStatus
from services.store.common import batches, find_one_as
from services.store.packs import Packs, accounts_pack
from services.store.snapshot_layers import SnapshotLayers
from services.store.snapshot_orders import ALL, SnapshotOrders
from services.sync.models import (
    AccountFilter,
    Grant,
    GrantKind,
    GrantSource,
    PageFilter,
    SnapshotAccount,
    SnapshotManifest,
    SnapshotPage,
)

T = TypeVar("T")
M = TypeVar("M")


class SnapshotQueryRepository:
    """Reads of ``snapshot_accounts`` and ``snapshot_pages`` (indexes: SnapshotDataRepository).

    A snapshot a targeted run made is a layer over a full one (``snapshot_layers``, ADR 020):
    its accounts are the layer's documents for the accounts it lists, and the base's for every
    other account. Each read resolves the two, so callers see one snapshot either way. A layer
    has no orders of its own (``SnapshotRefreshRepository`` writes none): its pages are always
    read by the keyset path over the layer and its base (``_list_layered``).
    """

    def __init__(
        self, db: Any, layers: SnapshotLayers | None = None, *, items_by_id: bool = False
    ) -> None:
        """``items_by_id``: read a page's items by ``_id`` rather than as an index range (the
        embedded store: mongomock has no indexes, so a range filters every document of the
        collection in Python, while its ``_id`` lookups are direct, ``client.py``)."""
        self._items_by_id = items_by_id
        self._accounts = db["snapshot_accounts"]
        self._pages = db["snapshot_pages"]
        self._counts = db["snapshot_counts"]
        self._account_orders = SnapshotOrders(db, "accounts")
        self._page_orders = SnapshotOrders(db, "pages")
        self._layers = layers or SnapshotLayers(db)
        self._packs = Packs(db)

    async def ensure_indexes(self) -> None:
        """Nothing of its own: the data repository creates the indexes these reads use."""

    async def list_accounts(
        self, *, snapshot_id: str, filter: AccountFilter, limit: int, after: str | None
    ) -> tuple[list[SnapshotAccount], int]:
        """Up to ``limit`` accounts by account id after ``after``; and the filtered total."""
        layer = await self._layers.layer(snapshot_id)
        if layer is not None:
            return await self._list_layered(layer, filter, limit, after)
        key = account_order_key(filter)
        if key is not None:
            ordered = await self._account_orders.page(snapshot_id, key, after=after, limit=limit)
            if ordered is not None:
                query = _account_query(snapshot_id, filter)
                docs = await self._page_of(self._accounts, query, "account_id", ordered.ids)
                return [to_account(d) for d in docs], ordered.total
        query = _account_query(snapshot_id, filter)
        total = await self._total(self._accounts, query, "accounts")
        if after is not None:
            query["account_id"] = {"$gt": after}
        cursor = self._accounts.find(query, {"snapshot_id": 0}).sort("account_id", 1).limit(limit)
        return [to_account(d) async for d in cursor], total

    async def _page_of(
        self,
        col: Any,
        query: dict[str, Any],
        field: str,
        ids: list[str],
        projection: dict[str, int] | None = None,
    ) -> list[Mapping[str, Any]]:
        """The documents of a page of an order: ``ids`` are consecutive in the order of the
        filter ``query`` (its equality), so they are the documents of ``query`` from the first
        id to the last: one range of the filter's index, whose every key is the page's (a
        ``$in`` of the ids made SecantusDB compare each candidate with every id)."""
        if not ids:
            return []
        if not self._items_by_id:
            ranged = {**query, field: {"$gte": ids[0], "$lte": ids[-1]}}
            cursor = col.find(ranged, projection).sort(field, 1).limit(len(ids))
            docs: list[Mapping[str, Any]] = await cursor.to_list(len(ids))
            if [d[field] for d in docs] == ids:
                return docs
            # An order and its snapshot that disagree (never written so): by the ids.
        snapshot_id = query["snapshot_id"]
        keys = [f"{snapshot_id}:{i}" for i in ids]
        found = {d["_id"]: d async for d in col.find({"_id": {"$in": keys}}, projection)}
        return [found[k] for k in keys if k in found]

    async def _list_layered(
        self, layer: SnapshotManifest, filter: AccountFilter, limit: int, after: str | None
    ) -> tuple[list[SnapshotAccount], int]:
        """The layer's matching accounts merged with the base's that the layer does not
        decide; the total counts the same way (the base's shadowed ones read by ``_id``)."""
        assert layer.base_id is not None
        touched = set(layer.accounts)
        own = _account_query(layer.snapshot_id, filter)
        base = _account_query(layer.base_id, filter)
        if list(own) == ["snapshot_id"]:
            total = await self._total(self._accounts, own, "accounts")
        else:
            shadowed = {**base, "_id": {"$in": [f"{layer.base_id}:{a}" for a in touched]}}
            total = (
                int(await self._accounts.count_documents(own))
                + int(await self._accounts.count_documents(base))
                - int(await self._accounts.count_documents(shadowed))
            )
        if after is not None:
            own["account_id"] = base["account_id"] = {"$gt": after}
        projection = {"snapshot_id": 0}
        mine = self._accounts.find(own, projection).sort("account_id", 1).limit(limit)
        rows = [d async for d in mine]
        kept = 0
        others = self._accounts.find(base, projection).sort("account_id", 1)
        try:
            async for doc in others.limit(limit + len(touched)):
                if doc["account_id"] in touched:
                    continue
                rows.append(doc)
                kept += 1
                if kept >= limit:
                    break
        finally:
            await others.close()
        rows.sort(key=lambda d: d["account_id"])
        return [to_account(d) for d in rows[:limit]], total

    async def _total(self, col: Any, query: dict[str, Any], kind: str) -> int:
        """How many documents match: without a filter, the snapshot's count recorded when its
        run finished (no scan); with one, a count over the filter's index."""
        if list(query) == ["snapshot_id"]:
            recorded = await self._counts.find_one({"_id": query["snapshot_id"]}, {kind: 1})
            if recorded is not None and kind in recorded:
                return int(recorded[kind])
        return int(await col.count_documents(query))

    async def get_account(self, *, snapshot_id: str, account_id: str) -> SnapshotAccount | None:
        """One account of the snapshot."""
        layer = await self._layers.layer(snapshot_id)
        if layer is not None and layer.base_id is not None and account_id not in layer.accounts:
            snapshot_id = layer.base_id
        return await find_one_as(self._accounts, {"_id": f"{snapshot_id}:{account_id}"}, to_account)

    async def iter_accounts(self, *, snapshot_id: str) -> AsyncIterator[SnapshotAccount]:
        """Every account of the snapshot, by account id (streamed, for checks and identity)."""
        layer = await self._layers.layer(snapshot_id)
        if layer is None or layer.base_id is None:
            async for doc in self._every_account(snapshot_id):
                yield to_account(doc)
            return
        touched = set(layer.accounts)
        mine = self._accounts.find({"snapshot_id": snapshot_id}).sort("account_id", 1)
        own = [d async for d in mine]  # the layer: bounded (ADR 020)
        i = 0
        async for doc in self._every_account(layer.base_id):
            if doc["account_id"] in touched:
                continue
            while i < len(own) and own[i]["account_id"] < doc["account_id"]:
                yield to_account(own[i])
                i += 1
            yield to_account(doc)
        for doc in own[i:]:
            yield to_account(doc)

    async def _every_account(self, snapshot_id: str) -> AsyncIterator[Mapping[str, Any]]:
        """Every account document of a full snapshot by account id: from its pack (ADR 026),
        or from the documents for a snapshot without one."""
        pack = await self._packs.read(accounts_pack(snapshot_id))
        if pack is not None:
            for doc in pack.documents():
                yield doc
            return
        cursor = self._accounts.find({"snapshot_id": snapshot_id}).sort("account_id", 1)
        try:
            async for batch in batches(cursor):
                for doc in batch:
                    yield doc
        finally:
            await cursor.close()

    async def list_pages(
        self, *, snapshot_id: str, filter: PageFilter, limit: int, after: str | None
    ) -> tuple[list[SnapshotPage], int]:
        """Up to ``limit`` pages by page id after ``after`` (bodies left out); and the total."""
        key = page_order_key(filter)
        if key is not None:
            ordered = await self._page_orders.page(snapshot_id, key, after=after, limit=limit)
            if ordered is not None:
                query = _page_query(snapshot_id, filter)
                no_body = {"body_storage": 0}
                docs = await self._page_of(self._pages, query, "page_id", ordered.ids, no_body)
                return [to_page(d) for d in docs], ordered.total
        query = _page_query(snapshot_id, filter)
        total = await self._total(self._pages, query, "pages")
        if after is not None:
            query["page_id"] = {"$gt": after}
        projection = {"body_storage": 0}
        cursor = self._pages.find(query, projection).sort("page_id", 1).limit(limit)
        return [to_page(d) async for d in cursor], total

    async def get_page(self, *, snapshot_id: str, page_id: str) -> SnapshotPage | None:
        """One page of the snapshot, with its storage-format body."""
        return await find_one_as(self._pages, {"_id": f"{snapshot_id}:{page_id}"}, to_page)

    async def iter_pages(self, *, snapshot_id: str) -> AsyncIterator[SnapshotPage]:
        """Every page of the snapshot with its body, by page id (streamed)."""
        cursor = self._pages.find({"snapshot_id": snapshot_id}).sort("page_id", 1)
        async for doc in cursor:
            yield to_page(doc)


def account_order_key(f: AccountFilter) -> str | None:
    """The order serving ``f`` (``snapshot_orders.account_keys``), if one does."""
    if f.search or f.classification is not None:
        return None
    keys = [
        None if f.status is None else f"status={f.status.value}",
        None if f.admin is None else f"admin={'true' if f.admin else 'false'}",
        None if f.has_access is None else f"access={'true' if f.has_access else 'false'}",
        None if f.account_type is None else f"type={f.account_type.value}",
        None if f.group is None else f"group={f.group}",
    ]
    given = [k for k in keys if k is not None]
    return ALL if not given else given[0] if len(given) == 1 else None


def page_order_key(f: PageFilter) -> str | None:
    """The order serving ``f`` (``snapshot_orders.page_keys``), if one does."""
    if f.search:
        return None
    keys = [
        None if f.label is None else f"label={f.label}",
        None if f.space is None else f"space={f.space}",
    ]
    given = [k for k in keys if k is not None]
    return ALL if not given else given[0] if len(given) == 1 else None


def _contains(text: str) -> dict[str, str]:
    return {"$regex": re.escape(text), "$options": "i"}


def _account_query(snapshot_id: str, f: AccountFilter) -> dict[str, Any]:
    query: dict[str, Any] = {"snapshot_id": snapshot_id}
    if f.status is not None:
        query["account_status"] = f.status.value
    if f.admin is not None:
        query["is_admin"] = f.admin
    if f.has_access is not None:
        query["has_access"] = f.has_access
    if f.group is not None:
        query["groups"] = f.group
    if f.account_type is not None:
        query["account_type"] = f.account_type.value
    if f.search:
        query["$or"] = [{"display_name": _contains(f.search)}, {"email": _contains(f.search)}]
    return query


def _page_query(snapshot_id: str, f: PageFilter) -> dict[str, Any]:
    query: dict[str, Any] = {"snapshot_id": snapshot_id}
    if f.label is not None:
        query["labels"] = f.label
    if f.space is not None:
        query["space_key"] = f.space
    if f.search:
        query["title"] = _contains(f.search)
    return query


def to_account(doc: Mapping[str, Any]) -> SnapshotAccount:
    """The domain object for a stored account."""
    get = doc.get
    account_type, status, groups, access_via, admin_via, directory, claim = _parts_of(doc)
    return SnapshotAccount(
        account_id=doc["account_id"],
        display_name=get("display_name"),
        email=get("email") or None,
        account_type=account_type,
        account_status=status,
        mfa_enabled=get("mfa_enabled"),
        groups=groups,
        last_active_at=get("last_active_at"),
        access_via=access_via,
        admin_via=admin_via,
        directory_status=directory,
        directory_id=get("directory_id"),
        claim_status=claim,
    )


_Parts = tuple[
    AccountType,
    AccountStatus,
    tuple[str, ...],
    tuple[Grant, ...],
    tuple[Grant, ...],
    DirectoryStatus | None,
    ClaimStatus | None,
]


def _parts_of(doc: Mapping[str, Any]) -> _Parts:
    """An account's type, statuses, groups and grants: parsed once per distinct stored form
    (a site's accounts repeat a few), so a million accounts are not parsed a million times."""
    get = doc.get
    try:
        key = (
            get("account_type"),
            get("account_status"),
            get("directory_status"),
            get("claim_status"),
            tuple(get("groups") or ()),
            tuple(tuple(g.items()) for g in doc["access_via"]) if "access_via" in doc else None,
            tuple(tuple(g.items()) for g in get("admin_via") or ()),
            None if "access_via" in doc else bool(get("is_admin")),
        )
        parts = _PARTS.get(key)
    except TypeError:  # a value that cannot be a key: parsed, not remembered
        return _parse_parts(doc)
    return parts if parts is not None else _remember(_PARTS, key, _parse_parts(doc))


def _parse_parts(doc: Mapping[str, Any]) -> _Parts:
    groups = _shared(tuple(sorted(doc.get("groups", []))))
    if "access_via" in doc:
        access_via = _shared(tuple(to_grant(g) for g in doc["access_via"]))
        admin_via = _shared(tuple(to_grant(g) for g in doc.get("admin_via") or ()))
    else:
        access_via, admin_via = _legacy_grants(doc, groups)
    return (
        AccountType.parse(doc.get("account_type")),
        AccountStatus.parse(doc.get("account_status")),
        groups,
        access_via,
        admin_via,
        _directory_status(doc.get("directory_status")),
        _claim_status(doc.get("claim_status")),
    )


def to_grant(doc: Mapping[str, Any]) -> Grant:
    """A stored grant (``snapshot_data.grant_doc``): one shared object per distinct grant
    (a site has few; a snapshot repeats them on every account)."""
    key = (doc["kind"], doc["source"], doc.get("group"), doc.get("group_id"), doc.get("role"))
    grant = _GRANTS.get(key)
    if grant is None:
        grant = Grant(GrantKind(key[0]), GrantSource(key[1]), key[2], key[3], key[4])
        _remember(_GRANTS, key, grant)
    return grant


def _shared(values: tuple[T, ...]) -> tuple[T, ...]:
    """One shared tuple per distinct value: accounts repeat a few sets of groups and grants,
    and a million accounts then hold a few thousand tuples (and group names), not a million."""
    held = _TUPLES.get(values)
    return held if held is not None else _remember(_TUPLES, values, values)


def _remember(memo: dict[tuple[Any, ...], M], key: tuple[Any, ...], value: M) -> M:
    """Keep ``value`` under ``key`` in one of the memos below, emptied when full."""
    if len(memo) >= _MAX_REMEMBERED:
        memo.clear()
    memo[key] = value
    return value


# What stored accounts repeat, parsed once and shared: frozen values, so sharing them is safe,
# and each memo is bounded so no site grows it forever.
_GRANTS: dict[tuple[Any, ...], Grant] = {}
_TUPLES: dict[tuple[Any, ...], tuple[Any, ...]] = {}
_PARTS: dict[tuple[Any, ...], _Parts] = {}
_MAX_REMEMBERED = 10_000


def _legacy_grants(
    doc: Mapping[str, Any], groups: tuple[str, ...]
) -> tuple[tuple[Grant, ...], tuple[Grant, ...]]:
    """Grants of an account stored before they were recorded: access through every group
    (membership was the only signal), admin through an unnamed configured admin group."""
    access = tuple(Grant.via_group(g, GrantSource.GROUP_MEMBERSHIP) for g in groups)
    admin = Grant.via_group(None, GrantSource.ADMIN_GROUPS_SETTING)
    return access, (admin,) if doc.get("is_admin") else ()


def _directory_status(value: Any) -> DirectoryStatus | None:
    return None if value is None else DirectoryStatus.parse(value)


def _claim_status(value: Any) -> ClaimStatus | None:
    return None if value is None else ClaimStatus.parse(value)


def to_page(doc: Mapping[str, Any]) -> SnapshotPage:
    """The domain object for a stored page."""
    return SnapshotPage(
        page_id=doc["page_id"],
        title=doc["title"],
        status=doc.get("status") or "current",
        space_key=doc.get("space_key"),
        space_name=doc.get("space_name"),
        version=doc.get("version"),
        last_modified_at=doc.get("last_modified_at"),
        last_modified_by=doc.get("last_modified_by"),
        created_at=doc.get("created_at"),
        created_by=doc.get("created_by"),
        labels=tuple(doc.get("labels", [])),
        web_url=doc.get("web_url"),
        body_storage=doc.get("body_storage"),
    )


__all__ = ["SnapshotQueryRepository"]
