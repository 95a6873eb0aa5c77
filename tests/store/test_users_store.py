"""Members, invitations and sessions on both stores: joining at the first sign-in under real
concurrency (one user, the invitation accepted once), sessions' deadlines and revocation."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

from api.container import build_members
from services.clock import utcnow_ms
from services.events import InMemoryEventBus
from services.models import Role
from services.store import Store
from services.users.models import (
    Invitation,
    InvitationStatus,
    Membership,
    NewInvitation,
    User,
    VerifiedIdentity,
)
from services.users.service import MemberService, SignInRefused
from services.users.sessions import SessionPolicy, SessionService


def services(
    store: Store, policy: SessionPolicy | None = None
) -> tuple[MemberService, SessionService]:
    _, sessions, members = build_members(store, InMemoryEventBus(), session_policy=policy)
    return members, sessions


def ada(subject: str = "ada-1") -> VerifiedIdentity:
    return VerifiedIdentity("oidc", subject, "ada@acme.example", True, "Ada Lovelace")


async def test_concurrent_first_sign_ins_make_one_user_and_accept_the_invitation_once(
    store: Store,
) -> None:
    org = await store.organizations.create(name="Acme")
    members, _ = services(store)
    invitation = await _invite_ada(store, org.id)
    joined = await asyncio.gather(*(members.join(ada()) for _ in range(5)))
    assert len({user.id for user, _ in joined}) == 1
    assert {m.role for _, m in joined} == {Role.REVIEWER}
    [stored] = await store.invitations.list_by_organization(organization_id=org.id)
    assert stored.id == invitation.id and stored.status(utcnow_ms()) is InvitationStatus.ACCEPTED
    assert len(await store.memberships.list_by_organization(organization_id=org.id)) == 1


async def _invited(store: Store) -> str:
    org = await store.organizations.create(name="Acme")
    await _invite_ada(store, org.id)
    return org.id


async def _invite_ada(store: Store, organization_id: str) -> Invitation:
    """Invite ada@acme.example to the organization as a REVIEWER, for a day."""
    return await store.invitations.create(
        NewInvitation(
            organization_id=organization_id,
            email="ada@acme.example",
            role=Role.REVIEWER,
            invited_by="key_1",
            expires_at=utcnow_ms() + timedelta(days=1),
        )
    )


async def test_a_sign_in_that_finds_the_invitation_just_accepted_by_its_twin_joins(
    store: Store,
) -> None:
    """Adverse timing of two first sign-ins of one person: the other runs whole while this
    one reads the open invitations. It then finds none pending, and must find the user and
    the membership the other made (it was refused as "not invited")."""
    org_id = await _invited(store)
    members, _ = services(store)
    real = store.invitations.list_open_for_email
    twin: list[tuple[User, Membership]] = []

    async def the_twin_first(*, email: str) -> list[Invitation]:
        if not twin:
            twin.append((None, None))  # type: ignore[arg-type]  # (its own read passes)
            twin[0] = await members.join(ada())
        return await real(email=email)

    store.invitations.list_open_for_email = the_twin_first  # type: ignore[method-assign]
    user, membership = await members.join(ada())
    assert user.id == twin[0][0].id
    assert (membership.organization_id, membership.role) == (org_id, Role.REVIEWER)


async def test_a_sign_in_between_its_twins_acceptance_and_membership_joins(store: Store) -> None:
    """Adverse timing the other way: this one runs whole just after the other accepted the
    invitation. The membership must exist by then (it was refused as "no longer a member")."""
    org_id = await _invited(store)
    members, _ = services(store)
    real = store.invitations.accept
    twin: list[tuple[User, Membership]] = []

    async def then_the_twin(*, invitation_id: str, user_id: str, at: datetime) -> bool:
        accepted = await real(invitation_id=invitation_id, user_id=user_id, at=at)
        if not twin:
            twin.append(await members.join(ada()))
        return accepted

    store.invitations.accept = then_the_twin  # type: ignore[method-assign]
    user, membership = await members.join(ada())
    assert twin and twin[0][0].id == user.id
    assert (twin[0][1].organization_id, twin[0][1].role) == (org_id, Role.REVIEWER)
    assert (membership.organization_id, membership.role) == (org_id, Role.REVIEWER)
    assert len(await store.memberships.list_by_organization(organization_id=org_id)) == 1


async def test_an_invitation_revoked_during_the_sign_in_leaves_no_membership(
    store: Store,
) -> None:
    """The membership is put before the acceptance; when the invitation is revoked in
    between, the acceptance fails and the membership is taken back: the sign-in is refused."""
    org_id = await _invited(store)
    members, _ = services(store)
    real = store.invitations.accept

    async def revoked_first(*, invitation_id: str, user_id: str, at: datetime) -> bool:
        await store.invitations.revoke(organization_id=org_id, invitation_id=invitation_id, at=at)
        return await real(invitation_id=invitation_id, user_id=user_id, at=at)

    store.invitations.accept = revoked_first  # type: ignore[method-assign]
    with pytest.raises(SignInRefused):
        await members.join(ada())
    assert await store.memberships.list_by_organization(organization_id=org_id) == []


async def test_a_session_ends_when_idle_when_ended_and_when_the_member_leaves(
    store: Store,
) -> None:
    org = await store.organizations.create(name="Acme")
    members, sessions = services(store, SessionPolicy(idle=timedelta(minutes=5)))
    await members.add_by_email(org.id, "ada@acme.example", Role.ADMIN)
    user, _ = await members.join(ada())
    made = await sessions.create(
        user_id=user.id, organization_id=org.id, provider="oidc", replacing=None
    )
    principal = await sessions.authenticate(made.token)
    assert principal is not None and principal.person is not None
    assert (principal.role, principal.person.email) == (Role.ADMIN, "ada@acme.example")
    # Idle past the deadline: refused (the stored last activity is moved back).
    await store.sessions.touch(session_id=made.session.id, at=utcnow_ms() - timedelta(minutes=6))
    assert await sessions.authenticate(made.token) is None
    other = await sessions.create(
        user_id=user.id, organization_id=org.id, provider="oidc", replacing=None
    )
    assert await sessions.authenticate(other.token) is not None
    await store.memberships.remove(organization_id=org.id, user_id=user.id)
    assert await sessions.authenticate(other.token) is None
    await store.memberships.put(
        organization_id=org.id, user_id=user.id, role=Role.VIEWER, added_by=None
    )
    assert await sessions.still_valid(principal) is False  # another role now
    ended = await sessions.end_token(other.token)
    assert ended is not None and await sessions.authenticate(other.token) is None
