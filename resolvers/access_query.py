"""Queries about the caller, its organization and API keys."""

from __future__ import annotations

from typing import Any

import strawberry

from resolvers.context import Context, principal_of
from resolvers.types import ApiKey, Organization, Role, Viewer


@strawberry.type(description="Reads about the caller; every one is scoped to its organization.")
class AccessQuery:
    @strawberry.field(description="The caller: organization and role (every role).")
    async def me(self, info: strawberry.Info[Context, Any]) -> Viewer:
        principal = principal_of(info)
        org = await info.context.services.api_keys.get_organization(principal)
        return Viewer(
            organization=Organization.from_domain(org),
            role=Role(principal.role.value),
            api_key_id=strawberry.ID(principal.api_key_id),
        )

    @strawberry.field(
        description="The organization's API keys (ADMIN; other roles get a FORBIDDEN error)."
    )
    async def api_keys(self, info: strawberry.Info[Context, Any]) -> list[ApiKey]:
        keys = await info.context.services.api_keys.list_api_keys(principal_of(info))
        return [ApiKey.from_domain(k) for k in keys]
