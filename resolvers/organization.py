"""The caller and its organization: ``me`` and ``activateFrameworks``."""

from __future__ import annotations

from typing import Annotated

import strawberry

from resolvers.context import Info, principal_of
from resolvers.errors import mutation
from resolvers.types import FrameworksPayload, Organization, User, Viewer
from services.models import Framework


@strawberry.type(description="Reads about the caller; every one is scoped to its organization.")
class OrganizationQuery:
    @strawberry.field(
        description="The caller: the signed-in person or the API key, its organization and "
        "role (every role)."
    )
    async def me(self, info: Info) -> Viewer:
        principal = principal_of(info)
        services = info.context.services
        org = await services.organizations.get_organization(principal)
        person = principal.person
        user = await services.members.user(person.user_id) if person else None
        return Viewer(
            kind=principal.actor_kind,
            organization=Organization.from_domain(org),
            role=principal.role,
            user=User.from_domain(user) if user else None,
            api_key_id=strawberry.ID(principal.api_key_id) if principal.api_key_id else None,
        )


@strawberry.type(description="Organization settings (ADMIN).")
class OrganizationMutation:
    @mutation(
        "Set the organization's active frameworks (ADMIN); required policies and "
        "control mappings follow."
    )
    async def activate_frameworks(
        self,
        info: Info,
        frameworks: Annotated[
            list[Framework],
            strawberry.argument(description="The complete new set (duplicates ignored)."),
        ],
    ) -> FrameworksPayload:
        org = await info.context.services.organizations.activate_frameworks(
            principal_of(info), frameworks
        )
        return FrameworksPayload(organization=Organization.from_domain(org))
