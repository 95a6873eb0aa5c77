"""People who sign in: users, their memberships, invitations and sessions (domain values)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from services.models import Role


@dataclass(frozen=True, slots=True)
class User:
    """A person who can sign in: one per email address (lower case)."""

    id: str
    email: str
    display_name: str
    created_at: datetime
    atlassian_account_id: str | None = None
    last_sign_in_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Membership:
    """A user's role in one organization."""

    organization_id: str
    user_id: str
    role: Role
    created_at: datetime
    added_by: str | None = None


class InvitationStatus(enum.StrEnum):
    """Where an invitation stands."""

    PENDING = "PENDING"
    ACCEPTED = "ACCEPTED"
    EXPIRED = "EXPIRED"
    REVOKED = "REVOKED"


@dataclass(frozen=True, slots=True)
class Invitation:
    """An ADMIN's invitation of an email address to an organization with a role."""

    id: str
    organization_id: str
    email: str
    role: Role
    invited_by: str
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None = None
    accepted_by: str | None = None
    revoked_at: datetime | None = None

    def status(self, now: datetime) -> InvitationStatus:
        """PENDING until accepted, revoked or past ``expires_at``."""
        if self.accepted_at is not None:
            return InvitationStatus.ACCEPTED
        if self.revoked_at is not None:
            return InvitationStatus.REVOKED
        if self.expires_at <= now:
            return InvitationStatus.EXPIRED
        return InvitationStatus.PENDING


@dataclass(frozen=True, slots=True)
class NewInvitation:
    """An invitation to store: the organization, address and role, who invites, and until when."""

    organization_id: str
    email: str
    role: Role
    invited_by: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in browser session (server-side; the cookie holds only a random token)."""

    id: str
    user_id: str
    organization_id: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    ended_at: datetime | None = None
    provider: str = ""


@dataclass(frozen=True, slots=True)
class SignInAttempt:
    """A sign-in under way: what the callback must match (the pre-sign-in session)."""

    id: str
    provider: str
    state: str
    nonce: str
    code_verifier: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class VerifiedIdentity:
    """Who the identity provider says signed in (after every check of its answer)."""

    provider: str
    subject: str
    email: str
    email_verified: bool
    display_name: str
    atlassian_account_id: str | None = None
