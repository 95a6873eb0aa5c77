"""Policy documents: the ``policies`` view, manual mapping, approval, auto-mapping.

Every change calls ``changed(organization_id)`` so the policy checks are re-evaluated (and
pushed to subscribers) right away. After a POLICY sync, ``services/reactions.py`` calls
``auto_map`` and then reacts as to any other policy change.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from dataclasses import KW_ONLY, dataclass
from datetime import datetime
from typing import Protocol

from services.api_keys import require_role
from services.callbacks import OnAction, OnChange, ignore_action, ignore_change
from services.clock import Clock, utcnow_ms
from services.errors import Conflict, NotFound, ValidationFailed
from services.events import EventBus, topic_for
from services.models import Action, Principal, Role
from services.policies.catalogue import PolicyType, matching_types, normalise_title
from services.policies.models import (
    MappingMethod,
    PolicyDocument,
    PolicyRequirement,
    PolicyStatus,
)
from services.policies.state import PolicyStateLoader

log = logging.getLogger(__name__)

#: The check whose evidence chain holds policy approvals (services/checks/policy/
#: document_setup.py; named here: the checks import this package).
DOCUMENT_SETUP_CHECK = "confluence-document-setup"

MAX_PAGE_ID = 100


#: Bus channel announcing that an organization's policies changed (``policiesChanged``).
POLICIES_CHANNEL = "policies"


class PolicyDocumentsRepo(Protocol):
    """The ``PolicyDocumentRepository`` methods ``PolicyService`` calls."""

    async def approve(
        self, *, organization_id: str, policy_type: PolicyType, by: str, at: datetime
    ) -> PolicyDocument | None: ...
    async def create_auto(self, document: PolicyDocument) -> PolicyDocument | None: ...
    async def delete(
        self, *, organization_id: str, policy_type: PolicyType
    ) -> PolicyDocument | None: ...
    async def dismiss(
        self, *, organization_id: str, policy_type: PolicyType, page_id: str, at: datetime
    ) -> None: ...
    async def dismissed(self, *, organization_id: str) -> set[tuple[PolicyType, str]]: ...
    async def map_manual(self, document: PolicyDocument) -> PolicyDocument: ...


@dataclass(eq=False, repr=False)
class PolicyService:
    """Required policies and their documents, for one organization at a time.

    ``on_action`` is told every approval (who, which page, when): the composition root
    seals it into the document-setup check's evidence chain.
    """

    loader: PolicyStateLoader
    _: KW_ONLY
    policies: PolicyDocumentsRepo
    on_policies_changed: OnChange = ignore_change
    on_action: OnAction = ignore_action
    clock: Clock = utcnow_ms

    async def requirements(self, principal: Principal) -> list[PolicyRequirement]:
        """Each policy the active frameworks require, with its document and page."""
        state = await self.loader.load(principal.organization_id)
        return [PolicyRequirement.of(state, d.type) for d in state.required]

    async def requirement(self, organization_id: str, policy_type: PolicyType) -> PolicyRequirement:
        """One policy type (required or not) with its document and page."""
        state = await self.loader.load(organization_id)
        return PolicyRequirement.of(state, policy_type)

    async def map_document(
        self, principal: Principal, policy_type: PolicyType, page_id: str
    ) -> PolicyRequirement:
        """Map a page of the current POLICY snapshot to a type by hand (ADMIN)."""
        require_role(principal, Role.ADMIN)
        page_id = page_id.strip()
        if not page_id or len(page_id) > MAX_PAGE_ID:
            raise ValidationFailed("pageId must be 1-100 characters", field=["input", "pageId"])
        org = principal.organization_id
        page = await self.loader.page(org, page_id)
        if page is None:
            raise NotFound(
                f"page {page_id} is not in the current policy snapshot: check the id, or "
                "connect and sync the POLICY integration",
                field=["input", "pageId"],
            )
        if not page.current:
            raise Conflict(
                f"page {page_id} is {page.status} in Confluence: map a current page",
                field=["input", "pageId"],
                code="PAGE_NOT_CURRENT",
            )
        await self.policies.map_manual(
            _draft(org, policy_type, page_id, page.title, self.clock(), by=principal.actor_id)
        )
        return await self._report_change(org, policy_type)

    async def approve(self, principal: Principal, policy_type: PolicyType) -> PolicyRequirement:
        """Make the type's mapped document ACTIVE (ADMIN)."""
        require_role(principal, Role.ADMIN)
        org, now = principal.organization_id, self.clock()
        approved = await self.policies.approve(
            organization_id=org, policy_type=policy_type, by=principal.actor_id, at=now
        )
        if approved is None:
            raise NotFound(f"{policy_type.value} has no mapped document", field=["input"])
        details = {"policyType": policy_type.value, "pageId": approved.page_id}
        await self.on_action(
            Action(
                organization_id=org,
                check_id=DOCUMENT_SETUP_CHECK,
                kind="policy-approved",
                actor=principal.describe(),
                at=now,
                details=details,
                subjects=(approved.page_id,),
            )
        )
        return await self._report_change(org, policy_type)

    async def unmap(self, principal: Principal, policy_type: PolicyType) -> PolicyRequirement:
        """Remove the type's mapping (ADMIN); auto-mapping will not map that page to it again."""
        require_role(principal, Role.ADMIN)
        org = principal.organization_id
        removed = await self.policies.delete(organization_id=org, policy_type=policy_type)
        if removed is None:
            raise NotFound(f"{policy_type.value} has no mapped document", field=["policyType"])
        await self.policies.dismiss(
            organization_id=org, policy_type=policy_type, page_id=removed.page_id, at=self.clock()
        )
        return await self._report_change(org, policy_type)

    async def auto_map(self, organization_id: str) -> list[PolicyDocument]:
        """Map unmapped types to matching current pages, first page by title winning."""
        state = await self.loader.load(organization_id)
        if state.snapshot_id is None:
            return []
        pages = [p async for p in self.loader.snapshot_pages(state.snapshot_id)]
        pages.sort(key=lambda p: (normalise_title(p.title), p.title, p.page_id))
        taken_types = set(state.documents)
        taken_pages = {d.page_id for d in state.documents.values()}
        dismissed = await self.policies.dismissed(organization_id=organization_id)
        created: list[PolicyDocument] = []
        for page in pages:
            if page.status != "current" or page.page_id in taken_pages:
                continue
            for policy_type in matching_types(page.title):
                if policy_type in taken_types or (policy_type, page.page_id) in dismissed:
                    continue
                document = await self.policies.create_auto(
                    _draft(organization_id, policy_type, page.page_id, page.title, self.clock())
                )
                if document is not None:
                    created.append(document)
                    taken_types.add(policy_type)
                    taken_pages.add(page.page_id)
                break  # a page maps to at most one type
        if created:
            log.info("auto-mapped %d policy document(s) of %s", len(created), organization_id)
        return created

    async def _report_change(
        self, organization_id: str, policy_type: PolicyType
    ) -> PolicyRequirement:
        await self.on_policies_changed(organization_id)
        return await self.requirement(organization_id, policy_type)


def _draft(
    organization_id: str,
    policy_type: PolicyType,
    page_id: str,
    title: str,
    at: datetime,
    *,
    by: str | None = None,
) -> PolicyDocument:
    """A page newly mapped to a policy type, a DRAFT: by hand by ``by``, else automatically."""
    method = MappingMethod.AUTO if by is None else MappingMethod.MANUAL
    return PolicyDocument(
        organization_id, policy_type, page_id, title, PolicyStatus.DRAFT, method, at, by
    )


# A function, not a method: the service holds no bus (the composition root publishes
# its changes on the channel).
async def watch_policies(
    bus: EventBus, policies: PolicyService, principal: Principal
) -> AsyncGenerator[list[PolicyRequirement], None]:
    """After every change that may have changed them from now on: the required policies."""
    async for _ in bus.subscribe(topic_for(principal.organization_id, POLICIES_CHANNEL)):
        yield await policies.requirements(principal)
