"""People who sign in: ``users``, ``memberships`` and ``invitations``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from services.models import Role
from services.store.common import find_one_as, from_doc, new_id, to_doc, unique, utcnow
from services.users.models import Invitation, Membership, NewInvitation, User, VerifiedIdentity


class UserRepository:
    """Persistence of users (``users``): one per email, with the identities that signed in."""

    def __init__(self, db: Any) -> None:
        self._col = db["users"]

    async def ensure_indexes(self) -> None:
        """Unique emails; identities looked up by provider and subject."""
        await self._col.create_index("email", unique=True)
        await self._col.create_index([("identities.provider", 1), ("identities.subject", 1)])

    async def create(self, *, email: str, display_name: str) -> User:
        """A new user; ``AlreadyExists`` if the email is taken."""
        doc: dict[str, Any] = {
            "_id": new_id("usr"),
            "email": email,
            "display_name": display_name,
            "identities": [],
            "atlassian_account_id": None,
            "created_at": utcnow(),
            "last_sign_in_at": None,
        }
        with unique("a user with this email exists"):
            await self._col.insert_one(doc)
        return _to_user(doc)

    async def get(self, *, user_id: str) -> User | None:
        """The user with this id, or None."""
        return await find_one_as(self._col, {"_id": user_id}, _to_user)

    async def get_many(self, *, user_ids: list[str]) -> dict[str, User]:
        """The users with these ids, by id."""
        return {d["_id"]: _to_user(d) async for d in self._col.find({"_id": {"$in": user_ids}})}

    async def get_by_email(self, *, email: str) -> User | None:
        """The user with this (lower-case) email, or None."""
        return await find_one_as(self._col, {"email": email}, _to_user)

    async def get_by_identity(self, *, provider: str, subject: str) -> User | None:
        """The user who signed in before with this provider's subject, or None."""
        query = {"identities": {"$elemMatch": {"provider": provider, "subject": subject}}}
        return await find_one_as(self._col, query, _to_user)

    async def signed_in(
        self, *, user_id: str, identity: VerifiedIdentity, at: datetime
    ) -> User | None:
        """Record a sign-in: the identity's provider and subject (once), its name, email and
        Atlassian account (when it has one) as the user's, the time."""
        update: dict[str, Any] = {
            "$set": {
                "display_name": identity.display_name,
                "email": identity.email,
                "last_sign_in_at": at,
            },
            "$addToSet": {
                "identities": {"provider": identity.provider, "subject": identity.subject}
            },
        }
        if identity.atlassian_account_id is not None:
            update["$set"]["atlassian_account_id"] = identity.atlassian_account_id
        with unique("a user with this email exists"):
            await self._col.update_one({"_id": user_id}, update)
        return await self.get(user_id=user_id)


class MembershipRepository:
    """Persistence of memberships (``memberships``): one per (organization, user)."""

    def __init__(self, db: Any) -> None:
        self._col = db["memberships"]

    async def ensure_indexes(self) -> None:
        """One membership per organization and user; a user's memberships by user."""
        await self._col.create_index([("organization_id", 1), ("user_id", 1)], unique=True)
        await self._col.create_index("user_id")

    async def put(
        self, *, organization_id: str, user_id: str, role: Role, added_by: str | None
    ) -> Membership:
        """Add the user to the organization with ``role`` (or set the role of a member)."""
        now = utcnow()
        await self._col.update_one(
            {"organization_id": organization_id, "user_id": user_id},
            {
                "$set": {"role": role.value},
                "$setOnInsert": {"created_at": now, "added_by": added_by},
            },
            upsert=True,
        )
        found = await self.get(organization_id=organization_id, user_id=user_id)
        assert found is not None
        return found

    async def get(self, *, organization_id: str, user_id: str) -> Membership | None:
        """The user's membership of the organization, or None."""
        return await find_one_as(
            self._col, {"organization_id": organization_id, "user_id": user_id}, _to_membership
        )

    async def list_by_organization(self, *, organization_id: str) -> list[Membership]:
        """Every member of an organization, oldest first."""
        cursor = self._col.find({"organization_id": organization_id}).sort("created_at", 1)
        return [_to_membership(d) async for d in cursor]

    async def list_by_user(self, *, user_id: str) -> list[Membership]:
        """Every organization the user belongs to, oldest first."""
        cursor = self._col.find({"user_id": user_id}).sort("created_at", 1)
        return [_to_membership(d) async for d in cursor]

    async def remove(self, *, organization_id: str, user_id: str) -> bool:
        """End a membership; False when there was none."""
        result = await self._col.delete_one(
            {"organization_id": organization_id, "user_id": user_id}
        )
        return bool(result.deleted_count)


class InvitationRepository:
    """Persistence of invitations (``invitations``)."""

    def __init__(self, db: Any) -> None:
        self._col = db["invitations"]

    async def ensure_indexes(self) -> None:
        """Invitations by email (sign-in) and by organization (listing)."""
        await self._col.create_index("email")
        await self._col.create_index([("organization_id", 1), ("created_at", -1)])

    async def create(self, invitation: NewInvitation) -> Invitation:
        """A new pending invitation."""
        doc = {
            "_id": new_id("inv"),
            **to_doc(invitation, role=invitation.role.value),
            "created_at": utcnow(),
            "accepted_at": None,
            "accepted_by": None,
            "revoked_at": None,
        }
        await self._col.insert_one(doc)
        return _to_invitation(doc)

    async def get(self, *, invitation_id: str) -> Invitation | None:
        """An invitation by id, or None."""
        return await find_one_as(self._col, {"_id": invitation_id}, _to_invitation)

    async def list_by_organization(self, *, organization_id: str) -> list[Invitation]:
        """The organization's invitations, newest first."""
        cursor = self._col.find({"organization_id": organization_id}).sort("created_at", -1)
        return [_to_invitation(d) async for d in cursor]

    async def list_open_for_email(self, *, email: str) -> list[Invitation]:
        """Invitations of an email neither accepted nor revoked (expired ones included)."""
        cursor = self._col.find({"email": email, "accepted_at": None, "revoked_at": None})
        return [_to_invitation(d) async for d in cursor.sort("created_at", 1)]

    async def accept(self, *, invitation_id: str, user_id: str, at: datetime) -> bool:
        """Accept a pending, unexpired invitation once; False if it no longer is one."""
        result = await self._col.update_one(
            {
                "_id": invitation_id,
                "accepted_at": None,
                "revoked_at": None,
                "expires_at": {"$gt": at},
            },
            {"$set": {"accepted_at": at, "accepted_by": user_id}},
        )
        return bool(result.modified_count)

    async def revoke(
        self, *, organization_id: str, invitation_id: str, at: datetime
    ) -> Invitation | None:
        """Revoke a pending invitation of the organization (idempotent); None if unknown."""
        query = {"_id": invitation_id, "organization_id": organization_id}
        await self._col.update_one(
            {**query, "accepted_at": None, "revoked_at": None}, {"$set": {"revoked_at": at}}
        )
        return await find_one_as(self._col, query, _to_invitation)


def _to_user(doc: Mapping[str, Any]) -> User:
    return User(
        id=doc["_id"],
        email=doc["email"],
        display_name=doc.get("display_name") or doc["email"],
        created_at=doc["created_at"],
        atlassian_account_id=doc.get("atlassian_account_id"),
        last_sign_in_at=doc.get("last_sign_in_at"),
    )


def _to_membership(doc: Mapping[str, Any]) -> Membership:
    return from_doc(Membership, doc, role=Role(doc["role"]))


def _to_invitation(doc: Mapping[str, Any]) -> Invitation:
    return from_doc(Invitation, doc, role=Role(doc["role"]))
