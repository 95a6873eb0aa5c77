"""Members and invitations: ``members``, ``invitations``, ``inviteMember``,
``revokeInvitation`` and ``removeMember``."""

from __future__ import annotations

from typing import Annotated

import strawberry

from resolvers.context import Info, principal_of
from resolvers.errors import mutation
from resolvers.member_types import (
    Invitation,
    InvitationPayload,
    InviteMemberInput,
    Member,
    RemoveMemberPayload,
)
from resolvers.types import ApiKey
from services.clock import utcnow


@strawberry.type(description="Reads of the organization's members and invitations.")
class MemberQuery:
    @strawberry.field(description="The people who may sign in to this organization (every role).")
    async def members(self, info: Info) -> list[Member]:
        found = await info.context.services.members.members(principal_of(info))
        return [Member.from_domain(m) for m in found]

    @strawberry.field(
        description="Invitations, newest first: pending ones, or all with `includeInactive` "
        "(ADMIN; other roles get FORBIDDEN)."
    )
    async def invitations(
        self,
        info: Info,
        include_inactive: Annotated[
            bool, strawberry.argument(description="Also accepted, expired and revoked ones.")
        ] = False,
    ) -> list[Invitation]:
        found = await info.context.services.members.invitations(
            principal_of(info), include_inactive
        )
        now = utcnow()
        return [Invitation.from_domain(i, now) for i in found]


@strawberry.type(description="Inviting and removing members (ADMIN).")
class MemberMutation:
    @mutation(
        "Invite an email address with a role (ADMIN): the first sign-in with that "
        "verified email joins. The invitation expires (`expiresAt`)."
    )
    async def invite_member(
        self,
        info: Info,
        input: Annotated[InviteMemberInput, strawberry.argument(description="Email and role.")],
    ) -> InvitationPayload:
        invitation = await info.context.services.members.invite(
            principal_of(info), input.email, input.role
        )
        return InvitationPayload(invitation=Invitation.from_domain(invitation, utcnow()))

    @mutation("Withdraw a pending invitation (ADMIN).")
    async def revoke_invitation(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The invitation id.")],
    ) -> InvitationPayload:
        invitation = await info.context.services.members.revoke_invitation(
            principal_of(info), str(id)
        )
        return InvitationPayload(invitation=Invitation.from_domain(invitation, utcnow()))

    @mutation(
        "Remove a member (ADMIN): their sessions here end at once (open WebSockets "
        "close) and the API keys they own here are revoked."
    )
    async def remove_member(
        self,
        info: Info,
        user_id: Annotated[strawberry.ID, strawberry.argument(description="The member's user id.")],
    ) -> RemoveMemberPayload:
        removal = await info.context.services.members.remove(principal_of(info), str(user_id))
        return RemoveMemberPayload(
            user_id=strawberry.ID(removal.user_id),
            ended_sessions=removal.ended_sessions,
            revoked_api_keys=[ApiKey.from_domain(k) for k in removal.revoked_keys],
        )
