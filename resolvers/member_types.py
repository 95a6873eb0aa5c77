"""GraphQL types of members and invitations."""

from __future__ import annotations

from datetime import datetime

import strawberry

from resolvers.actors import actor
from resolvers.context import Info, principal_of
from resolvers.enums import graphql_enum
from resolvers.errors import payload, result_field
from resolvers.mapping import mapped
from resolvers.types import Actor, ApiKey, User
from services.models import Role
from services.users import models
from services.users.models import InvitationStatus
from services.users.service import Member as DomainMember

graphql_enum(
    InvitationStatus,
    name="InvitationStatus",
    description="Where an invitation stands.",
    values={
        InvitationStatus.PENDING: "Not used yet; the first sign-in with the email joins.",
        InvitationStatus.ACCEPTED: "The invited person signed in and joined.",
        InvitationStatus.EXPIRED: "Not used before `expiresAt`; invite again.",
        InvitationStatus.REVOKED: "Withdrawn by an ADMIN.",
    },
)


@strawberry.type(description="A person's membership of the organization.")
class Member:
    user: User = strawberry.field(description="The person.")
    role: Role = strawberry.field(description="What they may do here.")
    joined_at: datetime = strawberry.field(description="When they joined (UTC).")

    @strawberry.field(
        description="The API keys this person owns here (ADMIN; other roles get FORBIDDEN)."
    )
    async def api_keys(self, info: Info) -> list[ApiKey]:
        keys = await info.context.services.api_keys.list_owned(
            principal_of(info), str(self.user.id)
        )
        return [ApiKey.from_domain(k) for k in keys]

    @classmethod
    def from_domain(cls, member: DomainMember) -> Member:
        """Map the domain object."""
        return cls(
            user=User.from_domain(member.user),
            role=member.membership.role,
            joined_at=member.membership.created_at,
        )


@strawberry.type(description="An invitation of an email address to join with a role.")
class Invitation:
    id: strawberry.ID = strawberry.field(description="Opaque invitation id.")
    email: str = strawberry.field(description="The invited address (lower case).")
    role: Role = strawberry.field(description="The role the person gets when they join.")
    status: InvitationStatus = strawberry.field(description="Pending, accepted, expired, revoked.")
    created_at: datetime = strawberry.field(description="When it was sent (UTC).")
    expires_at: datetime = strawberry.field(description="Until when it can be used (UTC).")
    invited_by: strawberry.ID = strawberry.field(description="Who invited: see `invitedByActor`.")

    @strawberry.field(description="The person or API key that invited.")
    async def invited_by_actor(self, info: Info) -> Actor:
        found = await actor(info, str(self.invited_by))
        assert found is not None
        return found

    @classmethod
    def from_domain(cls, invitation: models.Invitation, now: datetime) -> Invitation:
        """Map the domain object (its status as of ``now``)."""
        return mapped(cls, invitation, status=invitation.status(now))


@strawberry.input(description="Who to invite, and with which role.")
class InviteMemberInput:
    email: str = strawberry.field(description="The address the person signs in with.")
    role: Role = strawberry.field(description="The role they get when they join.")


@payload("An invitation after a change.")
class InvitationPayload:
    invitation: Invitation | None = result_field("The invitation")


@payload("What removing a member ended.")
class RemoveMemberPayload:
    user_id: strawberry.ID | None = result_field("The removed person")
    ended_sessions: int = strawberry.field(
        default=0, description="Their sessions here that ended (their WebSockets close)."
    )
    revoked_api_keys: list[ApiKey] = strawberry.field(
        default_factory=list, description="The API keys they owned here, now revoked."
    )
