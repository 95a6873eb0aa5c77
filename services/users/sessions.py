"""Server-side sessions: created at sign-in (a new token every time), checked on every
request, revocable, with an idle and an absolute timeout.

The browser's cookie holds a random 256-bit token; the store keeps its SHA-256 only. A
sign-in starts with a pre-sign-in session (``SignInAttempt``) whose token is ended when its
callback consumes it, and the signed-in session gets a new token: an id planted before sign-in
(session fixation) is worth nothing after it. Every request re-reads the session and the
membership, so sign-out, "sign out everywhere" and removal from the organization take effect
on the next request; ending sessions is published on the bus so every process closes their
WebSockets at once.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from services.clock import Clock, utcnow_ms
from services.events import EventBus
from services.ids import new_id
from services.models import Person, Principal
from services.users.models import Membership, Session, SignInAttempt, User
from services.users.service import sessions_topic

ATTEMPT_TTL = timedelta(minutes=10)
_TOUCH_EVERY = timedelta(minutes=1)
MAX_TOKEN = 200


def hash_token(token: str) -> str:
    """The stored form of a session token (256 random bits: no salt needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh random session token (256 bits)."""
    return secrets.token_urlsafe(32)


class SessionsRepo(Protocol):
    """The ``SessionRepository`` methods ``SessionService`` calls."""

    async def create_attempt(self, attempt: SignInAttempt, *, token_hash: str) -> None: ...
    async def consume_attempt(self, *, token_hash: str, now: datetime) -> SignInAttempt | None: ...
    async def create(self, session: Session, *, token_hash: str) -> None: ...
    async def get_by_token_hash(self, *, token_hash: str) -> Session | None: ...
    async def get(self, *, session_id: str) -> Session | None: ...
    async def touch(self, *, session_id: str, at: datetime) -> None: ...
    async def end(self, *, session_id: str, at: datetime, reason: str) -> bool: ...
    async def end_for_user(
        self, *, user_id: str, at: datetime, reason: str, organization_id: str | None = None
    ) -> list[Session]: ...


class MembershipsRepo(Protocol):
    """The ``MembershipRepository`` method a session re-reads on every request."""

    async def get(self, *, organization_id: str, user_id: str) -> Membership | None: ...


class UsersRepo(Protocol):
    """The ``UserRepository`` method a session re-reads on every request."""

    async def get(self, *, user_id: str) -> User | None: ...


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """How long a session lives: ``idle`` without a request, ``absolute`` at most."""

    idle: timedelta = timedelta(minutes=60)
    absolute: timedelta = timedelta(hours=12)


@dataclass(frozen=True, slots=True)
class NewSession:
    """A session just created and the token for its cookie (shown this once)."""

    session: Session
    token: str


class SessionService:
    """Creates, checks and ends sessions."""

    def __init__(
        self,
        bus: EventBus,
        *,
        sessions: SessionsRepo,
        memberships: MembershipsRepo,
        users: UsersRepo,
        policy: SessionPolicy | None = None,
        clock: Clock = utcnow_ms,
    ) -> None:
        self._bus = bus
        self._sessions = sessions
        self._memberships = memberships
        self._users = users
        self.policy = policy or SessionPolicy()
        self._clock = clock

    async def start_attempt(
        self, *, provider: str, state: str, nonce: str, code_verifier: str
    ) -> tuple[SignInAttempt, str]:
        """A pre-sign-in session holding what the callback must match, and its token."""
        token = new_token()
        now = self._clock()
        attempt = SignInAttempt(
            id=new_id("sia"),
            provider=provider,
            state=state,
            nonce=nonce,
            code_verifier=code_verifier,
            created_at=now,
            expires_at=now + ATTEMPT_TTL,
        )
        await self._sessions.create_attempt(attempt, token_hash=hash_token(token))
        return attempt, token

    async def consume_attempt(self, token: str | None) -> SignInAttempt | None:
        """The sign-in under way in this browser, ended now (single use); None if none."""
        if not token or len(token) > MAX_TOKEN:
            return None
        return await self._sessions.consume_attempt(token_hash=hash_token(token), now=self._clock())

    async def create(
        self, *, user_id: str, organization_id: str, provider: str, replacing: str | None
    ) -> NewSession:
        """A new session with a new token; the browser's previous session (if any) ends."""
        if replacing:
            await self.end_token(replacing, reason="replaced by a new sign-in")
        token = new_token()
        now = self._clock()
        session = Session(
            id=new_id("ses"),
            user_id=user_id,
            organization_id=organization_id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + self.policy.absolute,
            provider=provider,
        )
        await self._sessions.create(session, token_hash=hash_token(token))
        return NewSession(session, token)

    async def authenticate(self, token: str | None) -> Principal | None:
        """The signed-in person of a session token, or None (unknown, ended, timed out, or
        no longer a member)."""
        if not token or len(token) > MAX_TOKEN:
            return None
        session = await self._sessions.get_by_token_hash(token_hash=hash_token(token))
        now = self._clock()
        if session is None or not self._live(session, now):
            return None
        principal = await self._principal(session)
        if principal is not None and now - session.last_seen_at > _TOUCH_EVERY:
            await self._sessions.touch(session_id=session.id, at=now)
        return principal

    async def still_valid(self, principal: Principal) -> bool:
        """Whether the session behind ``principal`` still authenticates with the same role."""
        if principal.session_id is None:
            return False
        session = await self._sessions.get(session_id=principal.session_id)
        if session is None or not self._live(session, self._clock()):
            return False
        current = await self._principal(session)
        return current is not None and current.role is principal.role

    async def principal_of(self, session_id: str) -> Principal | None:
        """The signed-in person of a live session, by its id (a download link's holder)."""
        session = await self._sessions.get(session_id=session_id)
        if session is None or not self._live(session, self._clock()):
            return None
        return await self._principal(session)

    async def end_token(self, token: str | None, *, reason: str = "signed out") -> Session | None:
        """Sign out: end the session of this token (None if there was none)."""
        if not token or len(token) > MAX_TOKEN:
            return None
        session = await self._sessions.get_by_token_hash(token_hash=hash_token(token))
        if session is None:
            return None
        if await self._sessions.end(session_id=session.id, at=self._clock(), reason=reason):
            await self._announce([session])
        return session

    async def end_for_user(
        self, user_id: str, *, reason: str, organization_id: str | None = None
    ) -> int:
        """End every live session of a person ("sign out everywhere", removal)."""
        ended = await self._sessions.end_for_user(
            user_id=user_id, at=self._clock(), reason=reason, organization_id=organization_id
        )
        await self._announce(ended)
        return len(ended)

    def _live(self, session: Session, now: datetime) -> bool:
        return (
            session.ended_at is None
            and now < session.expires_at
            and now - session.last_seen_at < self.policy.idle
        )

    async def _principal(self, session: Session) -> Principal | None:
        membership = await self._memberships.get(
            organization_id=session.organization_id, user_id=session.user_id
        )
        user = await self._users.get(user_id=session.user_id) if membership else None
        if membership is None or user is None:
            return None
        person = Person(
            user_id=user.id,
            display_name=user.display_name,
            email=user.email,
            atlassian_account_id=user.atlassian_account_id,
        )
        return Principal(
            organization_id=session.organization_id,
            role=membership.role,
            person=person,
            session_id=session.id,
        )

    async def _announce(self, ended: list[Session]) -> None:
        for session in ended:
            await self._bus.publish(
                sessions_topic(session.organization_id),
                {"change": "ENDED", "session_id": session.id},
            )
