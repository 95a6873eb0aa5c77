"""Loading one organization's policy state: frameworks, POLICY snapshot, documents, pages.

Used by the ``policies`` query and by the policy checks' data source, so both always
agree. Only the mapped pages' bodies are read; their structure is parsed once per page
version (a small cache keyed by snapshot, page and version).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import KW_ONLY, dataclass, field
from typing import Protocol

from services.integrations.models import Purpose
from services.models import Organization
from services.paging import MAX_FIRST
from services.policies.models import PageFacts, PolicyDocument, PolicyState
from services.policies.structure import missing_sections
from services.sync.models import PageFilter, SnapshotPage
from services.sync.reads import SnapshotReader

CACHE_SIZE = 1024


class SnapshotQueriesRepo(Protocol):
    """The ``SnapshotQueryRepository`` methods ``PolicyStateLoader`` calls."""

    async def get_page(self, *, snapshot_id: str, page_id: str) -> SnapshotPage | None: ...
    async def list_pages(
        self, *, snapshot_id: str, filter: PageFilter, limit: int, after: str | None
    ) -> tuple[list[SnapshotPage], int]: ...


class PolicyDocumentsRepo(Protocol):
    """The ``PolicyDocumentRepository`` methods ``PolicyStateLoader`` calls."""

    async def list(self, *, organization_id: str) -> list[PolicyDocument]: ...


class OrganizationsRepo(Protocol):
    """The ``OrganizationRepository`` methods ``PolicyStateLoader`` calls."""

    async def get(self, *, organization_id: str) -> Organization | None: ...


@dataclass(eq=False, repr=False)
class PolicyStateLoader:
    """Reads what the policy checks and the ``policies`` query need."""

    reader: SnapshotReader
    _: KW_ONLY
    organizations: OrganizationsRepo
    policies: PolicyDocumentsRepo
    snapshot_queries: SnapshotQueriesRepo
    _sections: OrderedDict[tuple[str, str, int | None], tuple[str, ...]] = field(
        init=False, default_factory=OrderedDict
    )

    async def load(self, organization_id: str) -> PolicyState:
        """The organization's policy state now."""
        org = await self.organizations.get(organization_id=organization_id)
        integration = await self.reader.integration_for(organization_id, Purpose.POLICY)
        docs = await self.policies.list(organization_id=organization_id)
        snapshot = integration.current_snapshot_id if integration else None
        pages: dict[str, PageFacts] = {}
        if snapshot is not None:
            for doc in docs:
                page = await self.snapshot_queries.get_page(
                    snapshot_id=snapshot, page_id=doc.page_id
                )
                if page is not None:
                    pages[page.page_id] = self._facts(snapshot, page)
        return PolicyState(
            frameworks=org.frameworks if org else (),
            integration=integration,
            documents={d.policy_type: d for d in docs},
            pages=pages,
        )

    async def page(self, organization_id: str, page_id: str) -> PageFacts | None:
        """One page of the current POLICY snapshot (None without a snapshot or page)."""
        snapshot = await self.reader.current_snapshot(organization_id, Purpose.POLICY)
        if snapshot is None:
            return None
        page = await self.snapshot_queries.get_page(snapshot_id=snapshot, page_id=page_id)
        return self._facts(snapshot, page) if page else None

    async def snapshot_pages(self, snapshot_id: str) -> AsyncIterator[SnapshotPage]:
        """Every page of a snapshot without bodies, by page id (for auto-mapping)."""
        after: str | None = None
        while True:
            rows, _ = await self.snapshot_queries.list_pages(
                snapshot_id=snapshot_id, filter=PageFilter(), limit=MAX_FIRST, after=after
            )
            for row in rows:
                yield row
            if len(rows) < MAX_FIRST:
                return
            after = rows[-1].page_id

    def _facts(self, snapshot_id: str, page: SnapshotPage) -> PageFacts:
        key = (snapshot_id, page.page_id, page.version)
        missing = self._sections.get(key)
        if missing is None:
            missing = missing_sections(page.body_storage)
            self._sections[key] = missing
            if len(self._sections) > CACHE_SIZE:
                self._sections.popitem(last=False)
        return PageFacts(
            page_id=page.page_id,
            title=page.title,
            status=page.status,
            version=page.version,
            last_modified_at=page.last_modified_at,
            web_url=page.web_url,
            missing_sections=missing,
        )
