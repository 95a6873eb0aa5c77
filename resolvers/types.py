"""GraphQL output types for organizations, the viewer and API keys."""

from __future__ import annotations

from datetime import datetime

import strawberry

from resolvers.context import Info, principal_of
from resolvers.enums import graphql_enum
from resolvers.errors import payload, result_field
from resolvers.mapping import mapped
from resolvers.relay import Node
from services import models
from services.api_keys import KeyChange
from services.errors import Forbidden
from services.models import ActorKind, Framework, Role
from services.users.models import User as DomainUser

graphql_enum(
    Role,
    name="Role",
    description="What an API key may do. Every key belongs to one organization.",
    values={
        Role.ADMIN: "Everything: connect, configure, manage keys, people and reviews.",
        Role.REVIEWER: "Read everything; decide and complete access reviews.",
        Role.VIEWER: "Read everything; change nothing.",
    },
)
graphql_enum(
    Framework,
    name="Framework",
    description="A compliance framework whose controls the checks map to.",
    values={
        Framework.SOC2: "AICPA SOC 2 (Trust Services Criteria).",
        Framework.ISO27001: "ISO/IEC 27001:2022 (Annex A).",
    },
)


@strawberry.type(description="A tenant: every object belongs to exactly one organization.")
class Organization:
    id: strawberry.ID = strawberry.field(description="Opaque organization id.")
    name: str = strawberry.field(description="Display name of the organization.")
    frameworks: list[Framework] = strawberry.field(
        description="Active frameworks (set with `activateFrameworks`); empty means SOC 2 "
        "policies are required by default."
    )

    @strawberry.field(
        description="The public half of the organization's evidence signing key (Ed25519, "
        "PEM): hand it to an auditor out of band; `verify_bundle.py --public-key` checks an "
        "audit package and its signed checkpoints with it (every role)."
    )
    async def evidence_public_key(self, info: Info) -> str:
        principal = principal_of(info)
        if principal.organization_id != str(self.id):
            raise Forbidden("not your organization")
        return await info.context.services.evidence.public_key(principal)

    @classmethod
    def from_domain(cls, org: models.Organization) -> Organization:
        """Map the domain object."""
        return mapped(cls, org)


graphql_enum(
    ActorKind,
    name="ActorKind",
    description="Who acted or calls: a person signed in with a session, an API key, or Vigil.",
    values={
        ActorKind.PERSON: "A person signed in (Atlassian or OpenID Connect) with a session.",
        ActorKind.API_KEY: "An API key (a machine, a script, CI).",
        ActorKind.SYSTEM: "Vigil itself (scheduled work, the check engine, the operator CLI).",
    },
)


@strawberry.type(description="A person who signs in to Vigil (one per email address).")
class User:
    id: strawberry.ID = strawberry.field(description="Opaque user id.")
    display_name: str = strawberry.field(
        description="The name the identity provider gave at the last sign-in (the email until "
        "the first sign-in)."
    )
    email: str = strawberry.field(description="The verified email address (lower case).")
    atlassian_account_id: str | None = strawberry.field(
        description="The Atlassian account id, when the person signed in with Atlassian."
    )

    @classmethod
    def from_domain(cls, user: DomainUser) -> User:
        """Map the domain object."""
        return mapped(cls, user)


@strawberry.type(
    description="The caller: a signed-in person or an API key, its organization and role."
)
class Viewer:
    kind: ActorKind = strawberry.field(description="PERSON (a session) or API_KEY.")
    organization: Organization = strawberry.field(description="The caller's organization.")
    role: Role = strawberry.field(description="The caller's role.")
    user: User | None = strawberry.field(description="The signed-in person; null for an API key.")
    api_key_id: strawberry.ID | None = strawberry.field(
        description="Id of the API key making the call; null for a signed-in person."
    )


@strawberry.type(
    description="An API key's public facts; its secret value is shown only once, at creation."
)
class ApiKey(Node):
    id: strawberry.ID = strawberry.field(description="Opaque key id (not the secret).")
    name: str = strawberry.field(
        description="Name to recognise the key by (who or what uses it); may be empty for "
        "keys created before names were required."
    )
    role: Role = strawberry.field(description="What the key may do.")
    prefix: str = strawberry.field(
        description="The first characters of the secret, to recognise it (never the secret)."
    )
    created_at: datetime = strawberry.field(description="When the key was created (UTC).")
    revoked_at: datetime | None = strawberry.field(
        description="When the key was revoked (UTC); null while it works."
    )
    last_used_at: datetime | None = strawberry.field(
        description="When the key last authenticated a request (UTC); null if never."
    )
    owner_user_id: strawberry.ID | None = strawberry.field(
        description="The member who owns the key (it is revoked when they are removed); null "
        "for an organization's machine key."
    )

    @classmethod
    def from_domain(cls, key: models.ApiKey) -> ApiKey:
        """Map the domain object."""
        return mapped(cls, key)


@strawberry.type(
    description="Who made a decision or change: a signed-in person (name, email, Atlassian "
    "account id) or an API key (its name and role). Resolvable by every role (REVIEWERs see "
    "who decided without listing keys or members)."
)
class Actor:
    kind: ActorKind = strawberry.field(description="A person, an API key, or Vigil.")
    id: strawberry.ID = strawberry.field(
        description="The user id of a person, the id of an API key, or Vigil's own name."
    )
    api_key_id: strawberry.ID | None = strawberry.field(
        description="Id of the API key that acted; null for a person."
    )
    name: str | None = strawberry.field(
        description="The person's display name or the key's name; null when it no longer exists."
    )
    role: Role | None = strawberry.field(
        description="The key's role or the person's role here now; null when the key no longer "
        "exists or the person is no longer a member."
    )
    email: str | None = strawberry.field(description="The person's email; null for a key.")
    atlassian_account_id: str | None = strawberry.field(
        description="The person's Atlassian account id when they signed in with Atlassian."
    )

    @classmethod
    def of(cls, key_id: str, key: models.ApiKey | None) -> Actor:
        """The actor for a key id and the key found for it (None when gone)."""
        system = key is None and ":" in key_id  # e.g. the operator CLI's "cli:operator"
        return cls(
            kind=ActorKind.SYSTEM if system else ActorKind.API_KEY,
            id=strawberry.ID(key_id),
            api_key_id=None if system else strawberry.ID(key_id),
            name=key.name if key else None,
            role=key.role if key else None,
            email=None,
            atlassian_account_id=None,
        )

    @classmethod
    def person(cls, user_id: str, user: DomainUser | None, role: Role | None) -> Actor:
        """The actor for a user id, the user found for it and their role here now."""
        return cls(
            kind=ActorKind.PERSON,
            id=strawberry.ID(user_id),
            api_key_id=None,
            name=user.display_name if user else None,
            role=role,
            email=user.email if user else None,
            atlassian_account_id=user.atlassian_account_id if user else None,
        )


@strawberry.input(description="A new API key's role and a name to recognise it by.")
class CreateApiKeyInput:
    role: Role = strawberry.field(description="What the new key may do.")
    name: str = strawberry.field(
        default="",
        description="Who or what uses the key (at most 200 characters; default `<role> key`).",
    )
    owner_user_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="A member who owns the key: it is listed under them and revoked when they "
        "are removed. Null: the organization's machine key.",
    )


@payload("The created key and its secret value (shown this once).")
class CreateApiKeyPayload:
    api_key: ApiKey | None = result_field("The created key")
    secret: str | None = strawberry.field(
        default=None,
        description="The key's secret, to send as `Authorization: Bearer <secret>`. Shown "
        "only in this response: store it now.",
    )


@payload("An API key after a change.")
class ApiKeyPayload:
    api_key: ApiKey | None = result_field("The key after the change")


@payload("The organization after its frameworks changed.")
class FrameworksPayload:
    organization: Organization | None = result_field("The organization")


graphql_enum(
    KeyChange,
    name="ApiKeyChangeKind",
    description="What happened to an API key.",
    values={
        KeyChange.CREATED: "The key was created.",
        KeyChange.REVOKED: "The key was revoked.",
    },
)


@strawberry.type(description="An API key of the organization was created or revoked.")
class ApiKeyChange:
    change: KeyChange = strawberry.field(description="What happened.")
    api_key: ApiKey = strawberry.field(description="The key after the change.")
