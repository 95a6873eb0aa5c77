"""Sign-in sessions (``sessions``): signed-in sessions and sign-ins under way, by token hash.

A browser's cookie holds a random token; only its SHA-256 is stored. A sign-in under way
(``kind: "attempt"``) is the pre-sign-in session: single use, short-lived, ended when its
callback consumes it, so its token never authenticates anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from services.store.common import find_one_as, from_doc, to_doc, unique
from services.users.models import Session, SignInAttempt

_ATTEMPT = "attempt"
_SESSION = "session"


class SessionRepository:
    """Persistence of sessions and sign-in attempts."""

    def __init__(self, db: Any) -> None:
        self._col = db["sessions"]

    async def ensure_indexes(self) -> None:
        """Unique token hashes; a user's sessions; ended ones purged a day after expiry."""
        await self._col.create_index("token_hash", unique=True)
        await self._col.create_index([("user_id", 1), ("organization_id", 1)])
        await self._col.create_index("purge_at", expireAfterSeconds=86400)

    async def create_attempt(self, attempt: SignInAttempt, *, token_hash: str) -> None:
        """Store a sign-in under way (its secrets are single-use and expire with it)."""
        await self._insert(to_doc(attempt), kind=_ATTEMPT, token_hash=token_hash)

    async def consume_attempt(self, *, token_hash: str, now: datetime) -> SignInAttempt | None:
        """End a live sign-in attempt and return it; None if unknown, used or expired."""
        doc = await self._col.find_one_and_update(
            {
                "token_hash": token_hash,
                "kind": _ATTEMPT,
                "ended_at": None,
                "expires_at": {"$gt": now},
            },
            {"$set": {"ended_at": now}},
        )
        return _to_attempt(doc) if doc else None

    async def create(self, session: Session, *, token_hash: str) -> None:
        """Store a new signed-in session."""
        await self._insert(to_doc(session), kind=_SESSION, token_hash=token_hash)

    async def _insert(self, doc: dict[str, Any], *, kind: str, token_hash: str) -> None:
        """Insert a session or attempt under its token's hash, purged a day after it expires."""
        doc.update(kind=kind, token_hash=token_hash, purge_at=doc["expires_at"], ended_at=None)
        with unique("this session token exists"):
            await self._col.insert_one(doc)

    async def get_by_token_hash(self, *, token_hash: str) -> Session | None:
        """The signed-in session of a token (ended or not), or None."""
        return await find_one_as(
            self._col, {"token_hash": token_hash, "kind": _SESSION}, _to_session
        )

    async def get(self, *, session_id: str) -> Session | None:
        """A signed-in session by id, or None."""
        return await find_one_as(self._col, {"_id": session_id, "kind": _SESSION}, _to_session)

    async def touch(self, *, session_id: str, at: datetime) -> None:
        """Record activity (the idle timeout counts from here)."""
        await self._col.update_one({"_id": session_id}, {"$set": {"last_seen_at": at}})

    async def end(self, *, session_id: str, at: datetime, reason: str) -> bool:
        """End one session; False if it had already ended."""
        result = await self._col.update_one(
            {"_id": session_id, "ended_at": None},
            {"$set": {"ended_at": at, "end_reason": reason, "purge_at": at}},
        )
        return bool(result.modified_count)

    async def end_for_user(
        self, *, user_id: str, at: datetime, reason: str, organization_id: str | None = None
    ) -> list[Session]:
        """End every live session of a user (in one organization, when given)."""
        query: dict[str, Any] = {"user_id": user_id, "kind": _SESSION, "ended_at": None}
        if organization_id is not None:
            query["organization_id"] = organization_id
        live = [_to_session(d) async for d in self._col.find(query)]
        ended = []
        for session in live:
            if await self.end(session_id=session.id, at=at, reason=reason):
                ended.append(session)
        return ended


def _to_attempt(doc: Mapping[str, Any]) -> SignInAttempt:
    return from_doc(SignInAttempt, doc)


def _to_session(doc: Mapping[str, Any]) -> Session:
    return from_doc(Session, doc)
