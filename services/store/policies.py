"""Policy documents (``policy_documents``) and dismissed auto-mappings (``policy_dismissals``).

A document's ``_id`` is ``{organization}:{policy type}`` (one document per type) and a
unique index on (organization, page) keeps a page mapped to at most one type, so neither
rule depends on check-then-write races going well.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from services.errors import Conflict
from services.policies.catalogue import PolicyType
from services.policies.models import MappingMethod, PolicyDocument, PolicyStatus
from services.store.common import find_one_as, insert_new, to_doc


def _key(organization_id: str, policy_type: PolicyType) -> str:
    return f"{organization_id}:{policy_type.value}"


class PolicyDocumentRepository:
    """Persistence of policy documents and of the auto-mappings a person undid."""

    def __init__(self, db: Any) -> None:
        self._col = db["policy_documents"]
        self._dismissed = db["policy_dismissals"]

    async def ensure_indexes(self) -> None:
        """Create the indexes this repository relies on."""
        await self._col.create_index([("organization_id", 1), ("page_id", 1)], unique=True)
        await self._dismissed.create_index([("organization_id", 1), ("policy_type", 1)])

    async def list(self, *, organization_id: str) -> list[PolicyDocument]:
        """Every mapped document of the organization."""
        cursor = self._col.find({"organization_id": organization_id}).sort("_id", 1)
        return [_to_document(d) async for d in cursor]

    async def get(self, *, organization_id: str, policy_type: PolicyType) -> PolicyDocument | None:
        """The document mapped to ``policy_type``, if any."""
        return await find_one_as(
            self._col, {"_id": _key(organization_id, policy_type)}, _to_document
        )

    async def create_auto(self, document: PolicyDocument) -> PolicyDocument | None:
        """Store an AUTO draft unless its type or its page is mapped already (None)."""
        return document if await insert_new(self._col, _doc(document)) else None

    async def map_manual(self, document: PolicyDocument) -> PolicyDocument:
        """Map by hand (``document``, a MANUAL draft): the same page keeps its status; another
        page starts as the draft."""
        doc = _doc(document)
        same = await self._col.find_one_and_update(
            {"_id": doc["_id"], "page_id": document.page_id},
            {"$set": {k: doc[k] for k in ("method", "mapped_by", "title")}},
            return_document=ReturnDocument.AFTER,
        )
        if same is not None:
            return _to_document(same)
        try:
            await self._col.replace_one({"_id": doc["_id"]}, doc, upsert=True)
        except DuplicateKeyError:
            raise Conflict(
                f"page {document.page_id} is mapped to another policy type: unmap it there first",
                field=["input", "pageId"],
                code="PAGE_ALREADY_MAPPED",
            ) from None
        return document

    async def approve(
        self, *, organization_id: str, policy_type: PolicyType, by: str, at: datetime
    ) -> PolicyDocument | None:
        """Make the type's document ACTIVE (None if the type is not mapped)."""
        doc = await self._col.find_one_and_update(
            {"_id": _key(organization_id, policy_type)},
            {"$set": {"status": PolicyStatus.ACTIVE.value, "approved_by": by, "approved_at": at}},
            return_document=ReturnDocument.AFTER,
        )
        return _to_document(doc) if doc else None

    async def delete(
        self, *, organization_id: str, policy_type: PolicyType
    ) -> PolicyDocument | None:
        """Remove the type's mapping; returns what was removed (None if nothing was)."""
        doc = await self._col.find_one_and_delete({"_id": _key(organization_id, policy_type)})
        return _to_document(doc) if doc else None

    async def dismiss(
        self, *, organization_id: str, policy_type: PolicyType, page_id: str, at: datetime
    ) -> None:
        """Remember that a person unmapped this page from this type: never auto-map it again."""
        key = f"{_key(organization_id, policy_type)}:{page_id}"
        fields = {"organization_id": organization_id, "policy_type": policy_type.value}
        await self._dismissed.update_one(
            {"_id": key}, {"$set": {**fields, "page_id": page_id, "at": at}}, upsert=True
        )

    async def dismissed(self, *, organization_id: str) -> set[tuple[PolicyType, str]]:
        """The (type, page) pairs auto-mapping must skip."""
        cursor = self._dismissed.find({"organization_id": organization_id})
        return {(PolicyType(d["policy_type"]), d["page_id"]) async for d in cursor}


def _doc(d: PolicyDocument) -> dict[str, Any]:
    return {
        "_id": _key(d.organization_id, d.policy_type),
        **to_doc(d, policy_type=d.policy_type.value, status=d.status.value, method=d.method.value),
    }


def _to_document(doc: Mapping[str, Any]) -> PolicyDocument:
    return PolicyDocument(
        organization_id=doc["organization_id"],
        policy_type=PolicyType(doc["policy_type"]),
        page_id=doc["page_id"],
        title=doc.get("title") or "",
        status=PolicyStatus(doc["status"]),
        method=MappingMethod(doc["method"]),
        mapped_at=doc["mapped_at"],
        mapped_by=doc.get("mapped_by"),
        approved_at=doc.get("approved_at"),
        approved_by=doc.get("approved_by"),
    )


__all__ = ["PolicyDocumentRepository"]
