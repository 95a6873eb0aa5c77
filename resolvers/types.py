"""GraphQL output types for organizations, the viewer and API keys."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from resolvers.errors import UserError
from services import models


@strawberry.enum
class Role(Enum):
    """What an API key may do."""

    ADMIN = "ADMIN"
    REVIEWER = "REVIEWER"
    VIEWER = "VIEWER"


@strawberry.enum
class Framework(Enum):
    """A compliance framework."""

    SOC2 = "SOC2"
    ISO27001 = "ISO27001"


@strawberry.type
class Organization:
    """A tenant."""

    id: strawberry.ID
    name: str
    frameworks: list[Framework]

    @classmethod
    def from_domain(cls, org: models.Organization) -> Organization:
        """Map the domain object."""
        return cls(
            id=strawberry.ID(org.id),
            name=org.name,
            frameworks=[Framework(f.value) for f in org.frameworks],
        )


@strawberry.type
class Viewer:
    """The caller: its organization and role."""

    organization: Organization
    role: Role
    api_key_id: strawberry.ID


@strawberry.type
class ApiKey:
    """An API key's public facts; its value is shown only once, at creation."""

    id: strawberry.ID
    name: str
    role: Role
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def from_domain(cls, key: models.ApiKey) -> ApiKey:
        """Map the domain object."""
        return cls(
            id=strawberry.ID(key.id),
            name=key.name,
            role=Role(key.role.value),
            prefix=key.prefix,
            created_at=key.created_at,
            revoked_at=key.revoked_at,
            last_used_at=key.last_used_at,
        )


@strawberry.input
class CreateApiKeyInput:
    """A new key's role and a name to recognise it by."""

    role: Role
    name: str = ""


@strawberry.type
class CreateApiKeyPayload:
    """The created key and its value (shown this once)."""

    api_key: ApiKey | None = None
    secret: str | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ApiKeyPayload:
    """A key after a change."""

    api_key: ApiKey | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class FrameworksPayload:
    """The organization after its frameworks changed."""

    organization: Organization | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ApiKeyChange:
    """An API key of the organization was created or revoked."""

    change: str
    api_key: ApiKey
