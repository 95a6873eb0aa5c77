"""GraphQL types of required policies and policy documents (SPEC §6.1, §7)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from resolvers.enums import graphql_enum
from resolvers.errors import payload, result_field
from resolvers.mapping import mapped
from services.models import Framework
from services.policies import models
from services.policies.catalogue import PolicyType
from services.policies.models import MappingMethod, PolicyStatus

graphql_enum(
    PolicyType,
    name="PolicyType",
    description="A kind of policy a framework requires (SPEC §6.1).",
    values={
        PolicyType.INFORMATION_SECURITY: "Information Security Policy (SOC 2, ISO 27001).",
        PolicyType.ACCESS_CONTROL: "Access Control Policy (SOC 2, ISO 27001).",
        PolicyType.ACCEPTABLE_USE: "Acceptable Use Policy (SOC 2, ISO 27001).",
        PolicyType.ASSET_MANAGEMENT: "Asset Management Policy (SOC 2, ISO 27001).",
        PolicyType.BUSINESS_CONTINUITY_DISASTER_RECOVERY: (
            "Business Continuity and Disaster Recovery Policy (SOC 2, ISO 27001)."
        ),
        PolicyType.CHANGE_MANAGEMENT: "Change Management Policy (SOC 2, ISO 27001).",
        PolicyType.CODE_OF_CONDUCT: "Code of Conduct (SOC 2).",
        PolicyType.DATA_CLASSIFICATION: "Data Classification Policy (SOC 2, ISO 27001).",
        PolicyType.DATA_RETENTION_DISPOSAL: (
            "Data Retention and Disposal Policy (SOC 2, ISO 27001)."
        ),
        PolicyType.ENCRYPTION_CRYPTOGRAPHY: (
            "Encryption and Cryptography Policy (SOC 2, ISO 27001)."
        ),
        PolicyType.INCIDENT_RESPONSE: "Incident Response Policy (SOC 2, ISO 27001).",
        PolicyType.RISK_MANAGEMENT: "Risk Management Policy (SOC 2, ISO 27001).",
        PolicyType.VENDOR_MANAGEMENT: "Vendor Management Policy (SOC 2, ISO 27001).",
        PolicyType.HUMAN_RESOURCES_SECURITY: "Human Resources Security Policy (ISO 27001).",
        PolicyType.PHYSICAL_SECURITY: "Physical Security Policy (ISO 27001).",
        PolicyType.OPERATIONS_SECURITY: "Operations Security Policy (ISO 27001).",
    },
)


graphql_enum(
    PolicyStatus,
    name="PolicyStatus",
    description="Whether a mapped policy document is approved.",
    values={
        PolicyStatus.DRAFT: "Mapped, not yet approved by an ADMIN.",
        PolicyStatus.ACTIVE: "Approved (`approvePolicyDocument`).",
    },
)


graphql_enum(
    MappingMethod,
    name="PolicyMappingMethod",
    description="How the page was mapped to its policy type.",
    values={
        MappingMethod.AUTO: "By its title, after a sync.",
        MappingMethod.MANUAL: "By an ADMIN (`mapPolicyDocument`).",
    },
)


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
    method: MappingMethod = strawberry.field(description="How it was mapped.")
    mapped_at: datetime = strawberry.field(description="When it was mapped (UTC).")
    approved_at: datetime | None = strawberry.field(
        description="When it was approved (UTC); null while DRAFT."
    )

    @classmethod
    def from_domain(
        cls, doc: models.PolicyDocument, page: models.PageFacts | None
    ) -> PolicyDocument:
        """Map a document and its page (None when the snapshot does not have it)."""
        return mapped(
            cls,
            doc,
            title=page.title if page else doc.title,
            url=page.web_url if page else None,
            last_modified_at=page.last_modified_at if page else None,
            missing_sections=list(page.missing_sections) if page else [],
            version=page.version if page else None,
            page_status=page.status if page else "missing",
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
        document = PolicyDocument.from_domain(r.document, r.page) if r.document else None
        return mapped(cls, r.definition, policy_type=r.definition.type, document=document)


@strawberry.input(description="Map a page of the current policy snapshot to a policy type.")
class MapPolicyDocumentInput:
    policy_type: PolicyType = strawberry.field(description="The policy type.")
    page_id: strawberry.ID = strawberry.field(
        description="A page of `confluencePages` (1-100 characters)."
    )


@strawberry.input(description="Approve the document mapped to a policy type.")
class ApprovePolicyDocumentInput:
    policy_type: PolicyType = strawberry.field(description="The policy type.")


@payload("The requirement after the change.")
class PolicyPayload:
    requirement: PolicyRequirement | None = result_field("The requirement after the change")
