"""The sign-in round trip: start (a pre-sign-in session holding state, nonce and PKCE
verifier), the provider's callback (checked against that session, which ends there), then the
person joins (``MemberService.join``) and gets a new session.

The callback only counts in the browser that started the sign-in: the pre-sign-in session's
cookie must come back with it and its ``state`` must match (a forged, replayed or foreign
callback changes nothing). The signed-in session has a token of its own, never the
pre-sign-in one, and a session the browser held before is ended (rotation on sign-in).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from authlib.common.security import generate_token
from authlib.oauth2.rfc6749 import OAuth2Error
from authlib.oauth2.rfc6749.parameters import parse_authorization_code_response

from services.errors import NotFound
from services.signin.errors import SignInFailed
from services.users.models import Membership, User, VerifiedIdentity
from services.users.service import MemberService, SignInRefused
from services.users.sessions import NewSession, SessionService


class Provider(Protocol):
    """An identity provider Vigil can send a person to."""

    id: str
    name: str

    async def authorization_url(
        self, redirect_uri: str, *, state: str, nonce: str, code_verifier: str
    ) -> str: ...
    async def identity(
        self, code: str, redirect_uri: str, *, nonce: str, code_verifier: str
    ) -> VerifiedIdentity: ...


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A completed sign-in: the new session (and its token), the person, the organization."""

    session: NewSession
    user: User
    membership: Membership


class SignInService:
    """Starts and completes sign-ins with the configured providers."""

    def __init__(
        self,
        providers: Sequence[Provider],
        sessions: SessionService,
        members: MemberService,
        *,
        public_url: str,
        allowed_domains: Sequence[str] = (),
    ) -> None:
        self._providers = {p.id: p for p in providers}
        self._sessions = sessions
        self._members = members
        self._base = public_url.rstrip("/")
        self._domains = frozenset(d.strip().lower().lstrip("@") for d in allowed_domains if d)

    def providers(self) -> list[tuple[str, str]]:
        """``(id, name)`` of each configured provider, for the sign-in screen."""
        return [(p.id, p.name) for p in self._providers.values()]

    def redirect_uri(self, provider_id: str) -> str:
        """Where the provider sends the browser back (register it with the provider)."""
        return f"{self._base}/auth/{provider_id}/callback"

    async def start(self, provider_id: str) -> tuple[str, str]:
        """The provider's authorize URL and the pre-sign-in session's token (the cookie)."""
        provider = self._provider(provider_id)
        state, nonce, verifier = generate_token(43), generate_token(43), generate_token(64)
        _, token = await self._sessions.start_attempt(
            provider=provider_id, state=state, nonce=nonce, code_verifier=verifier
        )
        url = await provider.authorization_url(
            self.redirect_uri(provider_id), state=state, nonce=nonce, code_verifier=verifier
        )
        return url, token

    async def complete(
        self,
        provider_id: str,
        *,
        callback_url: str,
        params: Mapping[str, str],
        attempt_token: str | None,
        current_token: str | None,
    ) -> SignedIn:
        """Finish the sign-in this browser started; ``SignInFailed`` / ``SignInRefused`` say
        why not."""
        provider = self._provider(provider_id)
        attempt = await self._sessions.consume_attempt(attempt_token)
        if attempt is None or attempt.provider != provider_id:
            raise SignInFailed(
                "this sign-in link is not valid in this browser (expired, already used, or "
                "started elsewhere); start again"
            )
        if not hmac.compare_digest(params.get("state", ""), attempt.state):
            raise SignInFailed("the sign-in answer does not belong to this sign-in")
        if params.get("error"):
            declined = params.get("error") == "access_denied"
            raise SignInFailed(
                "you declined on the sign-in screen"
                if declined
                else f"the identity provider reported an error ({params['error'][:60]})"
            )
        try:
            answer = parse_authorization_code_response(callback_url, state=attempt.state)
        except OAuth2Error:
            raise SignInFailed("the sign-in answer does not belong to this sign-in") from None
        identity = await provider.identity(
            str(answer["code"]),
            self.redirect_uri(provider_id),
            nonce=attempt.nonce,
            code_verifier=attempt.code_verifier,
        )
        self._check_domain(identity)
        user, membership = await self._members.join(identity)
        session = await self._sessions.create(
            user_id=user.id,
            organization_id=membership.organization_id,
            provider=provider_id,
            replacing=current_token,
        )
        return SignedIn(session, user, membership)

    def _provider(self, provider_id: str) -> Provider:
        provider = self._providers.get(provider_id)
        if provider is None:
            raise NotFound(f"no sign-in provider {provider_id!r} is configured")
        return provider

    def _check_domain(self, identity: VerifiedIdentity) -> None:
        domain = identity.email.rpartition("@")[2]
        if self._domains and domain not in self._domains:
            raise SignInRefused(
                f"{identity.email} is not an address of a domain allowed to sign in to Vigil "
                f"({', '.join(sorted(self._domains))})"
            )
