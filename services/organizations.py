"""Organizations: creation (with a first ADMIN key), the first-run bootstrap, frameworks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass
from typing import Protocol

from services.api_keys import ApiKeyService, require_role
from services.callbacks import OnChange, ignore_change
from services.errors import ValidationFailed
from services.models import CreatedApiKey, Framework, Organization, Principal, Role


class OrganizationsRepo(Protocol):
    """The ``OrganizationRepository`` methods ``OrganizationService`` calls."""

    async def create(self, *, name: str) -> Organization: ...
    async def create_first(self, *, name: str) -> Organization | None: ...
    async def get_or_raise(self, *, organization_id: str) -> Organization: ...
    async def update_frameworks(
        self, *, organization_id: str, frameworks: Sequence[Framework]
    ) -> Organization: ...


@dataclass(eq=False, repr=False)
class OrganizationService:
    """Creates organizations (each with its first ADMIN key) and keeps their settings.

    ``on_frameworks_changed`` runs after the active frameworks changed (the reactions
    re-evaluate the policy checks).
    """

    api_keys: ApiKeyService
    _: KW_ONLY
    organizations: OrganizationsRepo
    on_frameworks_changed: OnChange = ignore_change

    async def create_organization(self, name: str) -> tuple[Organization, CreatedApiKey]:
        """Create an organization with its first ADMIN key."""
        org = await self.organizations.create(name=_valid_name(name))
        return org, await self.api_keys.create_initial_key(org.id)

    async def ensure_bootstrap_organization(
        self, name: str
    ) -> tuple[Organization, CreatedApiKey] | None:
        """Create a first organization when the store holds none; else None. Processes that
        start together on an empty database create one between them."""
        org = await self.organizations.create_first(name=_valid_name(name))
        if org is None:
            return None
        return org, await self.api_keys.create_initial_key(org.id)

    async def get_organization(self, principal: Principal) -> Organization:
        """The caller's organization."""
        return await self.organizations.get_or_raise(organization_id=principal.organization_id)

    async def activate_frameworks(
        self, principal: Principal, frameworks: Sequence[Framework]
    ) -> Organization:
        """Set the organization's active frameworks (ADMIN only; duplicates ignored)."""
        require_role(principal, Role.ADMIN)
        unique = list(dict.fromkeys(frameworks))
        org = await self.organizations.update_frameworks(
            organization_id=principal.organization_id, frameworks=unique
        )
        await self.on_frameworks_changed(org.id)
        return org


def _valid_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 200:
        raise ValidationFailed("name must be 1-200 characters", field=["name"])
    return name
