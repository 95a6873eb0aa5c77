"""API keys: ``apiKeys``, ``createApiKey``, ``revokeApiKey`` and ``apiKeyChanged``."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Annotated

import strawberry

from resolvers.context import Info, principal_of
from resolvers.errors import mutation
from resolvers.types import (
    ApiKey,
    ApiKeyChange,
    ApiKeyPayload,
    CreateApiKeyInput,
    CreateApiKeyPayload,
)


@strawberry.type(description="Reads of the organization's API keys.")
class ApiKeyQuery:
    @strawberry.field(
        description="The organization's API keys (ADMIN; other roles get a FORBIDDEN error)."
    )
    async def api_keys(self, info: Info) -> list[ApiKey]:
        keys = await info.context.services.api_keys.list_api_keys(principal_of(info))
        return [ApiKey.from_domain(k) for k in keys]


@strawberry.type(description="Creating and revoking API keys (ADMIN).")
class ApiKeyMutation:
    @mutation(
        "Create an API key in the caller's organization (ADMIN); its secret is returned once."
    )
    async def create_api_key(
        self,
        info: Info,
        input: Annotated[CreateApiKeyInput, strawberry.argument(description="Role and name.")],
    ) -> CreateApiKeyPayload:
        principal, services = principal_of(info), info.context.services
        owner = str(input.owner_user_id) if input.owner_user_id else None
        if owner is not None:
            await services.members.require_member(principal, owner, ["input", "ownerUserId"])
        created = await services.api_keys.create_api_key(principal, input.role, input.name, owner)
        return CreateApiKeyPayload(api_key=ApiKey.from_domain(created.key), secret=created.secret)

    @mutation("Revoke an API key of the caller's organization (ADMIN); it stops working at once.")
    async def revoke_api_key(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The key id.")],
    ) -> ApiKeyPayload:
        key = await info.context.services.api_keys.revoke_api_key(principal_of(info), str(id))
        return ApiKeyPayload(api_key=ApiKey.from_domain(key))


@strawberry.type(description="Live updates about API keys.")
class ApiKeySubscription:
    @strawberry.subscription(
        description="API keys of the organization created or revoked (ADMIN sees every key; "
        "other roles only their own)."
    )
    async def api_key_changed(self, info: Info) -> AsyncGenerator[ApiKeyChange, None]:
        changes = info.context.services.api_keys.watch(principal_of(info))
        async with aclosing(changes):
            async for change, key in changes:
                yield ApiKeyChange(change=change, api_key=ApiKey.from_domain(key))
