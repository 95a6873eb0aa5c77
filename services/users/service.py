"""Members of organizations: invitations (ADMIN, by email, expiring), joining at the first
sign-in with the invited verified email, removal (which ends the person's sessions and revokes
the keys they own at once), and the bootstrap of a first ADMIN by email (``vigil user add``).

Removal publishes the ended sessions on the organization's ``sessions`` channel, so every
process closes the person's open WebSockets (``api.sockets.SocketRegistry``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from services.api_keys import ApiKeyService, require_role
from services.clock import Clock, utcnow_ms
from services.errors import AlreadyExists, DomainError, NotFound, ValidationFailed
from services.events import topic_for
from services.models import ApiKey, Organization, Principal, Role
from services.users.models import (
    Invitation,
    InvitationStatus,
    Membership,
    NewInvitation,
    User,
    VerifiedIdentity,
)

#: Bus channel of ended sessions: ``{"change": "ENDED", "session_id": ...}``.
SESSIONS_CHANNEL = "sessions"
INVITATION_TTL = timedelta(days=7)
MAX_EMAIL = 320


class SignInRefused(DomainError):
    """The identity provider's answer was genuine, but this person may not sign in."""

    code = "SIGN_IN_REFUSED"


class UsersRepo(Protocol):
    """The ``UserRepository`` methods the member service calls."""

    async def create(self, *, email: str, display_name: str) -> User: ...
    async def get(self, *, user_id: str) -> User | None: ...
    async def get_many(self, *, user_ids: list[str]) -> dict[str, User]: ...
    async def get_by_email(self, *, email: str) -> User | None: ...
    async def get_by_identity(self, *, provider: str, subject: str) -> User | None: ...
    async def signed_in(
        self, *, user_id: str, identity: VerifiedIdentity, at: datetime
    ) -> User | None: ...


class MembershipsRepo(Protocol):
    """The ``MembershipRepository`` methods the member service calls."""

    async def put(
        self, *, organization_id: str, user_id: str, role: Role, added_by: str | None
    ) -> Membership: ...
    async def get(self, *, organization_id: str, user_id: str) -> Membership | None: ...
    async def list_by_organization(self, *, organization_id: str) -> list[Membership]: ...
    async def list_by_user(self, *, user_id: str) -> list[Membership]: ...
    async def remove(self, *, organization_id: str, user_id: str) -> bool: ...


class InvitationsRepo(Protocol):
    """The ``InvitationRepository`` methods the member service calls."""

    async def create(self, invitation: NewInvitation) -> Invitation: ...
    async def get(self, *, invitation_id: str) -> Invitation | None: ...
    async def list_by_organization(self, *, organization_id: str) -> list[Invitation]: ...
    async def list_open_for_email(self, *, email: str) -> list[Invitation]: ...
    async def accept(self, *, invitation_id: str, user_id: str, at: datetime) -> bool: ...
    async def revoke(
        self, *, organization_id: str, invitation_id: str, at: datetime
    ) -> Invitation | None: ...


class EndsSessions(Protocol):
    """What removal needs of the sessions: end a person's sessions in an organization."""

    async def end_for_user(
        self, user_id: str, *, reason: str, organization_id: str | None = None
    ) -> int: ...


class KnownOrganizations(Protocol):
    """The ``OrganizationRepository`` method the CLI bootstrap calls."""

    async def get_or_raise(self, *, organization_id: str) -> Organization: ...


@dataclass(frozen=True, slots=True)
class Member:
    """A member as listed: the user and the membership."""

    user: User
    membership: Membership


@dataclass(frozen=True, slots=True)
class Removal:
    """What removing a member ended."""

    user_id: str
    ended_sessions: int
    revoked_keys: tuple[ApiKey, ...]


def normalise_email(value: str, *, field: Sequence[str] = ("input", "email")) -> str:
    """A plausible email address in lower case, or ``ValidationFailed``."""
    email = value.strip().lower()
    local, at, domain = email.partition("@")
    if not at or not local or "." not in domain or len(email) > MAX_EMAIL or " " in email:
        raise ValidationFailed("email is not a valid address", field=field)
    return email


@dataclass(eq=False, repr=False)
class MemberService:
    """Invitations, memberships and joining at sign-in."""

    api_keys: ApiKeyService
    sessions: EndsSessions
    _: KW_ONLY
    users: UsersRepo
    memberships: MembershipsRepo
    invitations_repo: InvitationsRepo
    organizations: KnownOrganizations
    invitation_ttl: timedelta = INVITATION_TTL
    clock: Clock = utcnow_ms

    # --- ADMIN operations -------------------------------------------------------------

    async def invite(self, principal: Principal, email: str, role: Role) -> Invitation:
        """Invite an email address with a role (ADMIN); it expires after the TTL."""
        require_role(principal, Role.ADMIN)
        address = normalise_email(email)
        user = await self.users.get_by_email(email=address)
        if user is not None and await self.memberships.get(
            organization_id=principal.organization_id, user_id=user.id
        ):
            raise DomainError(
                f"{address} is already a member", field=["input", "email"], code="ALREADY_MEMBER"
            )
        return await self.invitations_repo.create(
            NewInvitation(
                organization_id=principal.organization_id,
                email=address,
                role=role,
                invited_by=principal.actor_id,
                expires_at=self.clock() + self.invitation_ttl,
            )
        )

    async def revoke_invitation(self, principal: Principal, invitation_id: str) -> Invitation:
        """Withdraw a pending invitation (ADMIN)."""
        require_role(principal, Role.ADMIN)
        found = await self.invitations_repo.revoke(
            organization_id=principal.organization_id,
            invitation_id=invitation_id,
            at=self.clock(),
        )
        if found is None:
            raise NotFound(f"invitation {invitation_id} not found", field=["id"])
        return found

    async def invitations(self, principal: Principal, include_inactive: bool) -> list[Invitation]:
        """The organization's invitations, pending ones only unless asked (ADMIN)."""
        require_role(principal, Role.ADMIN)
        now = self.clock()
        found = await self.invitations_repo.list_by_organization(
            organization_id=principal.organization_id
        )
        return [i for i in found if include_inactive or i.status(now) is InvitationStatus.PENDING]

    async def members(self, principal: Principal) -> list[Member]:
        """The organization's members (every role)."""
        memberships = await self.memberships.list_by_organization(
            organization_id=principal.organization_id
        )
        users = await self.users.get_many(user_ids=[m.user_id for m in memberships])
        return [Member(users[m.user_id], m) for m in memberships if m.user_id in users]

    async def remove(self, principal: Principal, user_id: str) -> Removal:
        """Remove a member (ADMIN): their sessions here end and their keys are revoked at once."""
        require_role(principal, Role.ADMIN)
        org = principal.organization_id
        if principal.person is not None and principal.person.user_id == user_id:
            raise ValidationFailed("you cannot remove yourself", field=["userId"])
        if not await self.memberships.remove(organization_id=org, user_id=user_id):
            raise NotFound(f"member {user_id} not found", field=["userId"])
        ended = await self.sessions.end_for_user(
            user_id, reason="removed from the organization", organization_id=org
        )
        revoked = await self.api_keys.revoke_owned(org, user_id)
        return Removal(user_id, ended, tuple(revoked))

    async def member(self, principal: Principal, user_id: str) -> Member | None:
        """One member of the caller's organization (every role: who acted)."""
        membership = await self.memberships.get(
            organization_id=principal.organization_id, user_id=user_id
        )
        user = await self.users.get(user_id=user_id) if membership else None
        return Member(user, membership) if user and membership else None

    async def user_for_display(self, principal: Principal, user_id: str) -> User | None:
        """A user who acted in the caller's organization (a member now, or once: the id came
        from a record of this organization), for showing who acted."""
        return await self.users.get(user_id=user_id)

    async def require_member(self, principal: Principal, user_id: str, field: list[str]) -> None:
        """``NotFound`` unless ``user_id`` is a member of the caller's organization (ADMIN:
        who may own a key)."""
        require_role(principal, Role.ADMIN)
        if await self.memberships.get(organization_id=principal.organization_id, user_id=user_id):
            return
        raise NotFound(f"member {user_id} not found", field=field)

    # --- operator bootstrap (CLI) -----------------------------------------------------

    async def add_by_email(self, organization_id: str, email: str, role: Role) -> Member:
        """Make an email address a member now (``vigil user add``): it signs in as itself."""
        await self.organizations.get_or_raise(organization_id=organization_id)
        address = normalise_email(email, field=["email"])
        user = await self.users.get_by_email(email=address)
        if user is None:
            try:
                user = await self.users.create(email=address, display_name=address)
            except AlreadyExists:
                user = await self.users.get_by_email(email=address)
        assert user is not None
        membership = await self.memberships.put(
            organization_id=organization_id, user_id=user.id, role=role, added_by="cli:operator"
        )
        return Member(user, membership)

    # --- sign-in ----------------------------------------------------------------------

    async def join(self, identity: VerifiedIdentity) -> tuple[User, Membership]:
        """The user a verified identity signs in as, and the organization it acts in.

        Pending invitations of the email are accepted (its first sign-in joins); a person
        with neither a membership nor an invitation is refused with a message saying why.
        """
        if not identity.email_verified:
            raise SignInRefused(
                f"{identity.email} is not a verified email address at your identity provider; "
                "verify it there, then sign in again"
            )
        email = identity.email.lower()
        now = self.clock()
        # The invitations before the user, and (``_join_by``) the membership before the
        # acceptance: a concurrent first sign-in of the same person that finds the
        # invitation accepted finds the user and the membership too.
        open_invitations = await self.invitations_repo.list_open_for_email(email=email)
        pending = [i for i in open_invitations if i.status(now) is InvitationStatus.PENDING]
        user = await self.users.get_by_identity(
            provider=identity.provider, subject=identity.subject
        ) or await self.users.get_by_email(email=email)
        if user is None and not pending:
            raise SignInRefused(_not_invited(email, open_invitations))
        if user is None:
            try:
                user = await self.users.create(email=email, display_name=identity.display_name)
            except AlreadyExists:  # a concurrent first sign-in created it
                user = await self.users.get_by_email(email=email)
            assert user is not None
        updated = await self.users.signed_in(
            user_id=user.id,
            identity=replace(
                identity, email=email, display_name=identity.display_name or user.display_name
            ),
            at=now,
        )
        user = updated or user
        joined: Membership | None = None
        for invitation in pending:
            joined = await self._join_by(invitation, user.id, now) or joined
        memberships = await self.memberships.list_by_user(user_id=user.id)
        if not memberships:
            raise SignInRefused(_not_invited(email, open_invitations, known=True))
        return user, joined or memberships[0]

    async def _join_by(
        self, invitation: Invitation, user_id: str, now: datetime
    ) -> Membership | None:
        """The membership ``invitation`` gives, once it is accepted for ``user_id``; None
        when it no longer can be (revoked or expired meanwhile).

        A new membership is put before the acceptance and taken back if the acceptance
        fails; an existing one (a member invited again) changes only once accepted."""
        org = invitation.organization_id
        existing = await self.memberships.get(organization_id=org, user_id=user_id)
        if existing is None:
            made = await self._put(invitation, user_id)
            if await self._accepted(invitation, user_id, now):
                return made
            await self.memberships.remove(organization_id=org, user_id=user_id)
            return None
        if await self._accepted(invitation, user_id, now):
            return await self._put(invitation, user_id)
        return None

    async def _put(self, invitation: Invitation, user_id: str) -> Membership:
        return await self.memberships.put(
            organization_id=invitation.organization_id,
            user_id=user_id,
            role=invitation.role,
            added_by=invitation.invited_by,
        )

    async def _accepted(self, invitation: Invitation, user_id: str, now: datetime) -> bool:
        """Accept the invitation for ``user_id``; True also when a concurrent sign-in of the
        same person accepted it first (both then put the same membership)."""
        if await self.invitations_repo.accept(invitation_id=invitation.id, user_id=user_id, at=now):
            return True
        current = await self.invitations_repo.get(invitation_id=invitation.id)
        return current is not None and current.accepted_by == user_id

    async def membership(self, organization_id: str, user_id: str) -> Membership | None:
        """A user's membership of an organization (sessions re-check it on every request)."""
        return await self.memberships.get(organization_id=organization_id, user_id=user_id)

    async def user(self, user_id: str) -> User | None:
        """A user by id."""
        return await self.users.get(user_id=user_id)


def _not_invited(email: str, invitations: Sequence[Invitation], known: bool = False) -> str:
    if invitations:
        return (
            f"The invitation for {email} has expired. Ask an ADMIN of your organization to "
            "invite you again."
        )
    if known:
        return (
            f"{email} is no longer a member of any organization in Vigil. Ask an ADMIN of "
            "your organization to invite you again."
        )
    return (
        f"{email} has not been invited to Vigil. Ask an ADMIN of your organization to invite "
        "this address, then sign in again."
    )


def sessions_topic(organization_id: str) -> str:
    """The bus topic of an organization's ended sessions."""
    return topic_for(organization_id, SESSIONS_CHANNEL)


__all__ = [
    "SESSIONS_CHANNEL",
    "Member",
    "MemberService",
    "Removal",
    "SignInRefused",
    "normalise_email",
    "sessions_topic",
]
