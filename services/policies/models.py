"""Policy documents and the state the policy checks and the ``policies`` query read."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from services.integrations.models import CurrentSnapshot, Integration
from services.models import Framework
from services.policies.catalogue import (
    BY_TYPE,
    PolicyDefinition,
    PolicyType,
    effective_frameworks,
    required_policies,
)


class PolicyStatus(enum.StrEnum):
    """A mapped document is a DRAFT until an ADMIN approves it (ACTIVE)."""

    DRAFT = "DRAFT"
    ACTIVE = "ACTIVE"


class MappingMethod(enum.StrEnum):
    """How a page came to be mapped to a policy type."""

    AUTO = "AUTO"
    MANUAL = "MANUAL"


@dataclass(frozen=True, slots=True)
class PolicyDocument:
    """A policy type mapped to a Confluence page (at most one per type, one type per page)."""

    organization_id: str
    policy_type: PolicyType
    page_id: str
    title: str
    status: PolicyStatus
    method: MappingMethod
    mapped_at: datetime
    mapped_by: str | None = None
    approved_at: datetime | None = None
    approved_by: str | None = None


@dataclass(frozen=True, slots=True)
class PageFacts:
    """A mapped page as the current POLICY snapshot shows it (structure already checked)."""

    page_id: str
    title: str
    status: str
    version: int | None
    last_modified_at: datetime | None
    web_url: str | None
    missing_sections: tuple[str, ...]

    @property
    def current(self) -> bool:
        """Whether Confluence shows the page as current (not archived, draft or trashed)."""
        return self.status == "current"


@dataclass(frozen=True)
class PolicyState(CurrentSnapshot):
    """One organization's frameworks, POLICY snapshot, documents and their pages.

    ``pages`` holds the mapped pages found in the current snapshot, by page id: a mapped
    page missing from it was deleted, moved out of the synced set, or archived upstream.
    """

    frameworks: tuple[Framework, ...]
    integration: Integration | None
    documents: Mapping[PolicyType, PolicyDocument] = field(default_factory=dict)
    pages: Mapping[str, PageFacts] = field(default_factory=dict)

    @property
    def effective_frameworks(self) -> tuple[Framework, ...]:
        """The active frameworks, or SOC 2 when none is."""
        return effective_frameworks(self.frameworks)

    @property
    def required(self) -> tuple[PolicyDefinition, ...]:
        """The policies the effective frameworks require."""
        return required_policies(self.frameworks)

    def page_of(self, document: PolicyDocument | None) -> PageFacts | None:
        """The snapshot's page of a document, if the snapshot has it."""
        return self.pages.get(document.page_id) if document else None


@dataclass(frozen=True, slots=True)
class PolicyRequirement:
    """A policy type with its mapped document and page (what ``policies`` returns)."""

    definition: PolicyDefinition
    document: PolicyDocument | None
    page: PageFacts | None

    @classmethod
    def of(cls, state: PolicyState, policy_type: PolicyType) -> PolicyRequirement:
        """The requirement of ``policy_type`` in ``state``."""
        document = state.documents.get(policy_type)
        return cls(BY_TYPE[policy_type], document, state.page_of(document))
