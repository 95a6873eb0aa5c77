"""Mutations on API keys and organization settings."""

from __future__ import annotations

from typing import Any

import strawberry

from resolvers.context import Context, principal_of
from resolvers.errors import user_errors
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


@strawberry.type
class AccessMutation:
    """Write operations; roles are enforced by the services they call."""

    @strawberry.mutation(description="Create an API key in the caller's organization (ADMIN).")
    async def create_api_key(
        self, info: strawberry.Info[Context, Any], input: CreateApiKeyInput
    ) -> CreateApiKeyPayload:
        try:
            created = await info.context.services.access.create_api_key(
                principal_of(info), models.Role(input.role.value), input.name
            )
        except DomainError as exc:
            return CreateApiKeyPayload(user_errors=user_errors(exc))
        return CreateApiKeyPayload(api_key=ApiKey.from_domain(created.key), secret=created.secret)

    @strawberry.mutation(description="Revoke an API key of the caller's organization (ADMIN).")
    async def revoke_api_key(
        self, info: strawberry.Info[Context, Any], id: strawberry.ID
    ) -> ApiKeyPayload:
        try:
            key = await info.context.services.access.revoke_api_key(principal_of(info), str(id))
        except DomainError as exc:
            return ApiKeyPayload(user_errors=user_errors(exc))
        return ApiKeyPayload(api_key=ApiKey.from_domain(key))

    @strawberry.mutation(description="Set the organization's active frameworks (ADMIN).")
    async def activate_frameworks(
        self, info: strawberry.Info[Context, Any], frameworks: list[Framework]
    ) -> FrameworksPayload:
        try:
            org = await info.context.services.access.activate_frameworks(
                principal_of(info), [models.Framework(f.value) for f in frameworks]
            )
        except DomainError as exc:
            return FrameworksPayload(user_errors=user_errors(exc))
        return FrameworksPayload(organization=Organization.from_domain(org))
