"""Mutations on API keys and organization settings."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from resolvers.context import Context, principal_of
from resolvers.errors import user_errors
from resolvers.relay import wire
from resolvers.types import (
    ApiKey,
    ApiKeyPayload,
    CreateApiKeyInput,
    CreateApiKeyPayload,
    Framework,
    FrameworksPayload,
    Organization,
)
from services import models
from services.errors import DomainError


@strawberry.type(description="Writes on keys and settings; roles are enforced by the services.")
class AccessMutation:
    @strawberry.mutation(
        description="Create an API key in the caller's organization (ADMIN); its secret is "
        "returned once."
    )
    async def create_api_key(
        self,
        info: strawberry.Info[Context, Any],
        input: Annotated[CreateApiKeyInput, strawberry.argument(description="Role and name.")],
    ) -> CreateApiKeyPayload:
        try:
            created = await info.context.services.api_keys.create_api_key(
                principal_of(info), models.Role(wire(input.role)), input.name
            )
        except DomainError as exc:
            return CreateApiKeyPayload(user_errors=user_errors(exc, info))
        return CreateApiKeyPayload(api_key=ApiKey.from_domain(created.key), secret=created.secret)

    @strawberry.mutation(
        description="Revoke an API key of the caller's organization (ADMIN); it stops working "
        "at once."
    )
    async def revoke_api_key(
        self,
        info: strawberry.Info[Context, Any],
        id: Annotated[strawberry.ID, strawberry.argument(description="The key id.")],
    ) -> ApiKeyPayload:
        try:
            key = await info.context.services.api_keys.revoke_api_key(principal_of(info), str(id))
        except DomainError as exc:
            return ApiKeyPayload(user_errors=user_errors(exc, info))
        return ApiKeyPayload(api_key=ApiKey.from_domain(key))

    @strawberry.mutation(
        description="Set the organization's active frameworks (ADMIN); required policies and "
        "control mappings follow."
    )
    async def activate_frameworks(
        self,
        info: strawberry.Info[Context, Any],
        frameworks: Annotated[
            list[Framework],
            strawberry.argument(description="The complete new set (duplicates ignored)."),
        ],
    ) -> FrameworksPayload:
        try:
            org = await info.context.services.api_keys.activate_frameworks(
                principal_of(info), [models.Framework(wire(f)) for f in frameworks]
            )
        except DomainError as exc:
            return FrameworksPayload(user_errors=user_errors(exc, info))
        return FrameworksPayload(organization=Organization.from_domain(org))
