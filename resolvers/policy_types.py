"""GraphQL types of required policies and policy documents (SPEC §6.1, §7)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from resolvers.errors import UserError
from resolvers.relay import USER_ERRORS
from resolvers.types import Framework
from services.policies import models


@strawberry.enum(description="A kind of policy a framework requires (SPEC §6.1).")
class PolicyType(Enum):
    INFORMATION_SECURITY = strawberry.enum_value(
        "INFORMATION_SECURITY", description="Information Security Policy (SOC 2, ISO 27001)."
    )
    ACCESS_CONTROL = strawberry.enum_value(
        "ACCESS_CONTROL", description="Access Control Policy (SOC 2, ISO 27001)."
    )
    ACCEPTABLE_USE = strawberry.enum_value(
        "ACCEPTABLE_USE", description="Acceptable Use Policy (SOC 2, ISO 27001)."
    )
    ASSET_MANAGEMENT = strawberry.enum_value(
        "ASSET_MANAGEMENT", description="Asset Management Policy (SOC 2, ISO 27001)."
    )
    BUSINESS_CONTINUITY_DISASTER_RECOVERY = strawberry.enum_value(
        "BUSINESS_CONTINUITY_DISASTER_RECOVERY",
        description="Business Continuity and Disaster Recovery Policy (SOC 2, ISO 27001).",
    )
    CHANGE_MANAGEMENT = strawberry.enum_value(
        "CHANGE_MANAGEMENT", description="Change Management Policy (SOC 2, ISO 27001)."
    )
    CODE_OF_CONDUCT = strawberry.enum_value(
        "CODE_OF_CONDUCT", description="Code of Conduct (SOC 2)."
    )
    DATA_CLASSIFICATION = strawberry.enum_value(
        "DATA_CLASSIFICATION", description="Data Classification Policy (SOC 2, ISO 27001)."
    )
    DATA_RETENTION_DISPOSAL = strawberry.enum_value(
        "DATA_RETENTION_DISPOSAL",
        description="Data Retention and Disposal Policy (SOC 2, ISO 27001).",
    )
    ENCRYPTION_CRYPTOGRAPHY = strawberry.enum_value(
        "ENCRYPTION_CRYPTOGRAPHY",
        description="Encryption and Cryptography Policy (SOC 2, ISO 27001).",
    )
    INCIDENT_RESPONSE = strawberry.enum_value(
        "INCIDENT_RESPONSE", description="Incident Response Policy (SOC 2, ISO 27001)."
    )
    RISK_MANAGEMENT = strawberry.enum_value(
        "RISK_MANAGEMENT", description="Risk Management Policy (SOC 2, ISO 27001)."
    )
    VENDOR_MANAGEMENT = strawberry.enum_value(
        "VENDOR_MANAGEMENT", description="Vendor Management Policy (SOC 2, ISO 27001)."
    )
    HUMAN_RESOURCES_SECURITY = strawberry.enum_value(
        "HUMAN_RESOURCES_SECURITY", description="Human Resources Security Policy (ISO 27001)."
    )
    PHYSICAL_SECURITY = strawberry.enum_value(
        "PHYSICAL_SECURITY", description="Physical Security Policy (ISO 27001)."
    )
    OPERATIONS_SECURITY = strawberry.enum_value(
        "OPERATIONS_SECURITY", description="Operations Security Policy (ISO 27001)."
    )


@strawberry.enum(description="Whether a mapped policy document is approved.")
class PolicyStatus(Enum):
    DRAFT = strawberry.enum_value("DRAFT", description="Mapped, not yet approved by an ADMIN.")
    ACTIVE = strawberry.enum_value("ACTIVE", description="Approved (`approvePolicyDocument`).")


@strawberry.enum(description="How the page was mapped to its policy type.")
class PolicyMappingMethod(Enum):
    AUTO = strawberry.enum_value("AUTO", description="By its title, after a sync.")
    MANUAL = strawberry.enum_value("MANUAL", description="By an ADMIN (`mapPolicyDocument`).")


@strawberry.type(
    description="A policy type mapped to a Confluence page, with the page as last synced."
)
class PolicyDocument:
    policy_type: PolicyType = strawberry.field(description="The policy type.")
    page_id: strawberry.ID = strawberry.field(description="The Confluence page id.")
    title: str = strawberry.field(description="The page title (as last synced).")
    status: PolicyStatus = strawberry.field(description="DRAFT until approved.")
    url: str | None = strawberry.field(
        description="Link to the page; null when the page is not in the current snapshot."
    )
    last_modified_at: datetime | None = strawberry.field(
        description="When the page last changed (UTC); null when not in the snapshot."
    )
    missing_sections: list[str] = strawberry.field(
        description="Sections the policy type needs that the page lacks (empty when complete)."
    )
    version: int | None = strawberry.field(description="The page's version number.")
    page_status: str = strawberry.field(
        description="`current`, `archived`… as Confluence reports it; `missing` when the page "
        "is not in the current policy snapshot (deleted, or no longer labelled)."
    )
    method: PolicyMappingMethod = strawberry.field(description="How it was mapped.")
    mapped_at: datetime = strawberry.field(description="When it was mapped (UTC).")
    approved_at: datetime | None = strawberry.field(
        description="When it was approved (UTC); null while DRAFT."
    )

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


@strawberry.type(
    description="A policy type, the frameworks requiring it, and its mapped document (if any)."
)
class PolicyRequirement:
    policy_type: PolicyType = strawberry.field(description="The policy type.")
    title: str = strawberry.field(description="Its name, e.g. Access Control Policy.")
    frameworks: list[Framework] = strawberry.field(
        description="The frameworks requiring it (of the catalogue, not only active ones)."
    )
    document: PolicyDocument | None = strawberry.field(
        description="The mapped document; null until a page is mapped."
    )

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


@strawberry.input(description="Map a page of the current policy snapshot to a policy type.")
class MapPolicyDocumentInput:
    policy_type: PolicyType = strawberry.field(description="The policy type.")
    page_id: strawberry.ID = strawberry.field(
        description="A page of `confluencePages` (1-100 characters)."
    )


@strawberry.input(description="Approve the document mapped to a policy type.")
class ApprovePolicyDocumentInput:
    policy_type: PolicyType = strawberry.field(description="The policy type.")


@strawberry.type(description="The requirement after the change.")
class PolicyPayload:
    requirement: PolicyRequirement | None = strawberry.field(
        default=None, description="The requirement after the change; null on userErrors."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list, description=USER_ERRORS)
