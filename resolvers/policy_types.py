"""GraphQL types of required policies and policy documents (SPEC §6.1, §7)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from resolvers.errors import UserError
from resolvers.types import Framework
from services.policies import models


@strawberry.enum
class PolicyType(Enum):
    """A kind of policy a framework requires (SPEC §6.1)."""

    INFORMATION_SECURITY = "INFORMATION_SECURITY"
    ACCESS_CONTROL = "ACCESS_CONTROL"
    ACCEPTABLE_USE = "ACCEPTABLE_USE"
    ASSET_MANAGEMENT = "ASSET_MANAGEMENT"
    BUSINESS_CONTINUITY_DISASTER_RECOVERY = "BUSINESS_CONTINUITY_DISASTER_RECOVERY"
    CHANGE_MANAGEMENT = "CHANGE_MANAGEMENT"
    CODE_OF_CONDUCT = "CODE_OF_CONDUCT"
    DATA_CLASSIFICATION = "DATA_CLASSIFICATION"
    DATA_RETENTION_DISPOSAL = "DATA_RETENTION_DISPOSAL"
    ENCRYPTION_CRYPTOGRAPHY = "ENCRYPTION_CRYPTOGRAPHY"
    INCIDENT_RESPONSE = "INCIDENT_RESPONSE"
    RISK_MANAGEMENT = "RISK_MANAGEMENT"
    VENDOR_MANAGEMENT = "VENDOR_MANAGEMENT"
    HUMAN_RESOURCES_SECURITY = "HUMAN_RESOURCES_SECURITY"
    PHYSICAL_SECURITY = "PHYSICAL_SECURITY"
    OPERATIONS_SECURITY = "OPERATIONS_SECURITY"


@strawberry.enum
class PolicyStatus(Enum):
    """A mapped document is a DRAFT until an ADMIN approves it."""

    DRAFT = "DRAFT"
    ACTIVE = "ACTIVE"


@strawberry.enum
class PolicyMappingMethod(Enum):
    """How the page was mapped: by title after a sync, or by hand."""

    AUTO = "AUTO"
    MANUAL = "MANUAL"


@strawberry.type
class PolicyDocument:
    """A policy type mapped to a Confluence page, with the page as last synced."""

    policy_type: PolicyType
    page_id: strawberry.ID
    title: str
    status: PolicyStatus
    url: str | None
    last_modified_at: datetime | None
    missing_sections: list[str]
    version: int | None
    page_status: str = strawberry.field(
        description="`current`, `archived`… as Confluence reports it; `missing` when the page "
        "is not in the current policy snapshot (deleted, or no longer labelled)."
    )
    method: PolicyMappingMethod
    mapped_at: datetime
    approved_at: datetime | None

    @classmethod
    def from_domain(
        cls, doc: models.PolicyDocument, page: models.PageFacts | None
    ) -> PolicyDocument:
        """Map a document and its page (None when the snapshot does not have it)."""
        return cls(
            policy_type=PolicyType(doc.policy_type.value),
            page_id=strawberry.ID(doc.page_id),
            title=page.title if page else doc.title,
            status=PolicyStatus(doc.status.value),
            url=page.web_url if page else None,
            last_modified_at=page.last_modified_at if page else None,
            missing_sections=list(page.missing_sections) if page else [],
            version=page.version if page else None,
            page_status=page.status if page else "missing",
            method=PolicyMappingMethod(doc.method.value),
            mapped_at=doc.mapped_at,
            approved_at=doc.approved_at,
        )


@strawberry.type
class PolicyRequirement:
    """A policy type, the frameworks requiring it, and its mapped document (if any)."""

    policy_type: PolicyType
    title: str
    frameworks: list[Framework]
    document: PolicyDocument | None

    @classmethod
    def from_domain(cls, r: models.PolicyRequirement) -> PolicyRequirement:
        """Map the domain object."""
        d = r.definition
        return cls(
            policy_type=PolicyType(d.type.value),
            title=d.title,
            frameworks=[Framework(f.value) for f in d.frameworks],
            document=PolicyDocument.from_domain(r.document, r.page) if r.document else None,
        )


@strawberry.input
class MapPolicyDocumentInput:
    """Map a page of the current policy snapshot to a policy type."""

    policy_type: PolicyType
    page_id: strawberry.ID


@strawberry.input
class ApprovePolicyDocumentInput:
    """Approve the document mapped to a policy type."""

    policy_type: PolicyType


@strawberry.type
class PolicyPayload:
    """The requirement after the change."""

    requirement: PolicyRequirement | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
