"""Required policies and their documents: the ``policies`` query and the mapping mutations."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated, Any

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
from resolvers.relay import wire
from services.errors import DomainError
from services.events import topic_for
from services.policies.catalogue import PolicyType as DomainPolicyType
from services.policies.service import POLICIES_CHANNEL


def _type(value: PolicyType) -> DomainPolicyType:
    return DomainPolicyType(wire(value))


@strawberry.type(description="Reads of required policies.")
class PolicyQuery:
    @strawberry.field(
        description="The policies the active frameworks require (SOC 2 when none is active), "
        "each with its mapped document (every role)."
    )
    async def policies(self, info: strawberry.Info[Context, Any]) -> list[PolicyRequirement]:
        requirements = await info.context.services.policies.requirements(principal_of(info))
        return [PolicyRequirement.from_domain(r) for r in requirements]


@strawberry.type(description="Mapping, approving and unmapping policy documents (ADMIN).")
class PolicyMutation:
    @strawberry.mutation(
        description="Map a synced page to a policy type by hand (ADMIN); the mapping starts "
        "as DRAFT."
    )
    async def map_policy_document(
        self,
        info: strawberry.Info[Context, Any],
        input: Annotated[
            MapPolicyDocumentInput, strawberry.argument(description="Policy type and page.")
        ],
    ) -> PolicyPayload:
        try:
            requirement = await info.context.services.policies.map_document(
                principal_of(info), _type(input.policy_type), str(input.page_id)
            )
        except DomainError as exc:
            return PolicyPayload(user_errors=user_errors(exc, info))
        return PolicyPayload(requirement=PolicyRequirement.from_domain(requirement))

    @strawberry.mutation(description="Make a policy type's document ACTIVE (ADMIN).")
    async def approve_policy_document(
        self,
        info: strawberry.Info[Context, Any],
        input: Annotated[
            ApprovePolicyDocumentInput, strawberry.argument(description="The policy type.")
        ],
    ) -> PolicyPayload:
        try:
            requirement = await info.context.services.policies.approve(
                principal_of(info), _type(input.policy_type)
            )
        except DomainError as exc:
            return PolicyPayload(user_errors=user_errors(exc, info))
        return PolicyPayload(requirement=PolicyRequirement.from_domain(requirement))

    @strawberry.mutation(
        description="Remove a policy type's mapping (ADMIN); auto-mapping will not map the "
        "same page to it again."
    )
    async def unmap_policy_document(
        self,
        info: strawberry.Info[Context, Any],
        policy_type: Annotated[PolicyType, strawberry.argument(description="The policy type.")],
    ) -> PolicyPayload:
        try:
            requirement = await info.context.services.policies.unmap(
                principal_of(info), _type(policy_type)
            )
        except DomainError as exc:
            return PolicyPayload(user_errors=user_errors(exc, info))
        return PolicyPayload(requirement=PolicyRequirement.from_domain(requirement))


@strawberry.type(description="Live policy changes.")
class PolicySubscription:
    @strawberry.subscription(
        description="Every required policy with its document whenever a mapping, approval, "
        "POLICY sync or framework change may have changed them (every role)."
    )
    async def policies_changed(
        self, info: strawberry.Info[Context, Any]
    ) -> AsyncGenerator[list[PolicyRequirement], None]:
        principal = principal_of(info)
        services = info.context.services
        async for _ in services.bus.subscribe(
            topic_for(principal.organization_id, POLICIES_CHANNEL)
        ):
            requirements = await services.policies.requirements(principal)
            yield [PolicyRequirement.from_domain(r) for r in requirements]
