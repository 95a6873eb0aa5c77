"""Required policies and their documents: the ``policies`` query and the mapping mutations."""

from __future__ import annotations

from typing import Any

import strawberry

from resolvers.context import Context, principal_of
from resolvers.errors import user_errors
from resolvers.policy_types import (
    ApprovePolicyDocumentInput,
    MapPolicyDocumentInput,
    PolicyPayload,
    PolicyRequirement,
    PolicyType,
)
from services.errors import DomainError
from services.policies.catalogue import PolicyType as DomainPolicyType


def _type(value: PolicyType) -> DomainPolicyType:
    return DomainPolicyType(value.value)


@strawberry.type
class PolicyQuery:
    """Reads of required policies."""

    @strawberry.field(
        description="The policies the active frameworks require (SOC 2 when none is active), "
        "each with its mapped document."
    )
    async def policies(self, info: strawberry.Info[Context, Any]) -> list[PolicyRequirement]:
        requirements = await info.context.services.policies.requirements(principal_of(info))
        return [PolicyRequirement.from_domain(r) for r in requirements]


@strawberry.type
class PolicyMutation:
    """Mapping, approving and unmapping policy documents (ADMIN)."""

    @strawberry.mutation(description="Map a synced page to a policy type by hand (ADMIN).")
    async def map_policy_document(
        self, info: strawberry.Info[Context, Any], input: MapPolicyDocumentInput
    ) -> PolicyPayload:
        try:
            requirement = await info.context.services.policies.map_document(
                principal_of(info), _type(input.policy_type), str(input.page_id)
            )
        except DomainError as exc:
            return PolicyPayload(user_errors=user_errors(exc))
        return PolicyPayload(requirement=PolicyRequirement.from_domain(requirement))

    @strawberry.mutation(description="Make a policy type's document ACTIVE (ADMIN).")
    async def approve_policy_document(
        self, info: strawberry.Info[Context, Any], input: ApprovePolicyDocumentInput
    ) -> PolicyPayload:
        try:
            requirement = await info.context.services.policies.approve(
                principal_of(info), _type(input.policy_type)
            )
        except DomainError as exc:
            return PolicyPayload(user_errors=user_errors(exc))
        return PolicyPayload(requirement=PolicyRequirement.from_domain(requirement))

    @strawberry.mutation(
        description="Remove a policy type's mapping (ADMIN); auto-mapping will not map the "
        "same page to it again."
    )
    async def unmap_policy_document(
        self,
        info: strawberry.Info[Context, Any],
        policy_type: PolicyType,
    ) -> PolicyPayload:
        try:
            requirement = await info.context.services.policies.unmap(
                principal_of(info), _type(policy_type)
            )
        except DomainError as exc:
            return PolicyPayload(user_errors=user_errors(exc))
        return PolicyPayload(requirement=PolicyRequirement.from_domain(requirement))
