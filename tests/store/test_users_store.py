"""Members, invitations and sessions on both stores: joining at the first sign-in under real
concurrency (one user, the invitation accepted once), sessions' deadlines and revocation."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from api.container import build_members
from services.clock import utcnow_ms
from services.events import InMemoryEventBus
from services.models import Role
from services.store import Store
from services.users.models import InvitationStatus, VerifiedIdentity
from services.users.service import MemberService
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
    invitation = await store.invitations.create(
        organization_id=org.id,
        email="ada@acme.example",
        role=Role.REVIEWER,
        invited_by="key_1",
        expires_at=utcnow_ms() + timedelta(days=1),
    )
    joined = await asyncio.gather(*(members.join(ada()) for _ in range(5)))
    assert len({user.id for user, _ in joined}) == 1
    assert {m.role for _, m in joined} == {Role.REVIEWER}
    [stored] = await store.invitations.list_by_organization(organization_id=org.id)
    assert stored.id == invitation.id and stored.status(utcnow_ms()) is InvitationStatus.ACCEPTED
    assert len(await store.memberships.list_by_organization(organization_id=org.id)) == 1


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
