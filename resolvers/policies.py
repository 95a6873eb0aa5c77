"""Required policies and their documents: the ``policies`` query and the mapping mutations."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Annotated

import strawberry

from resolvers.context import Info, principal_of
from resolvers.errors import mutation
from resolvers.policy_types import (
    ApprovePolicyDocumentInput,
    MapPolicyDocumentInput,
    PolicyPayload,
    PolicyRequirement,
)
from services.policies.catalogue import PolicyType
from services.policies.service import watch_policies


@strawberry.type(description="Reads of required policies.")
class PolicyQuery:
    @strawberry.field(
        description="The policies the active frameworks require (SOC 2 when none is active), "
        "each with its mapped document (every role)."
    )
    async def policies(self, info: Info) -> list[PolicyRequirement]:
        requirements = await info.context.services.policies.requirements(principal_of(info))
        return [PolicyRequirement.from_domain(r) for r in requirements]


@strawberry.type(description="Mapping, approving and unmapping policy documents (ADMIN).")
class PolicyMutation:
    @mutation("Map a synced page to a policy type by hand (ADMIN); the mapping starts as DRAFT.")
    async def map_policy_document(
        self,
        info: Info,
        input: Annotated[
            MapPolicyDocumentInput, strawberry.argument(description="Policy type and page.")
        ],
    ) -> PolicyPayload:
        requirement = await info.context.services.policies.map_document(
            principal_of(info), input.policy_type, str(input.page_id)
        )
        return PolicyPayload(requirement=PolicyRequirement.from_domain(requirement))

    @mutation("Make a policy type's document ACTIVE (ADMIN).")
    async def approve_policy_document(
        self,
        info: Info,
        input: Annotated[
            ApprovePolicyDocumentInput, strawberry.argument(description="The policy type.")
        ],
    ) -> PolicyPayload:
        requirement = await info.context.services.policies.approve(
            principal_of(info), input.policy_type
        )
        return PolicyPayload(requirement=PolicyRequirement.from_domain(requirement))

    @mutation(
        "Remove a policy type's mapping (ADMIN); auto-mapping will not map the "
        "same page to it again."
    )
    async def unmap_policy_document(
        self,
        info: Info,
        policy_type: Annotated[PolicyType, strawberry.argument(description="The policy type.")],
    ) -> PolicyPayload:
        requirement = await info.context.services.policies.unmap(principal_of(info), policy_type)
        return PolicyPayload(requirement=PolicyRequirement.from_domain(requirement))


@strawberry.type(description="Live policy changes.")
class PolicySubscription:
    @strawberry.subscription(
        description="Every required policy with its document whenever a mapping, approval, "
        "POLICY sync or framework change may have changed them (every role)."
    )
    async def policies_changed(self, info: Info) -> AsyncGenerator[list[PolicyRequirement], None]:
        services = info.context.services
        changes = watch_policies(services.bus, services.policies, principal_of(info))
        async with aclosing(changes):
            async for requirements in changes:
                yield [PolicyRequirement.from_domain(r) for r in requirements]
