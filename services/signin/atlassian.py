"""Sign-in with Atlassian: OAuth 2.0 (3LO) with the identity scope ``read:me``, then
``GET https://api.atlassian.com/me`` for ``account_id``, ``email`` and ``name``.

The 3LO leg is Vigil's Atlassian OAuth client (``services/atlassian/oauth.py``: JSON token
bodies and ``%20``-joined scopes as Atlassian documents, ADR 007); PKCE is not documented for
Atlassian's authorization server, so the ``state`` bound to the browser's pre-sign-in session
is what ties the callback to this browser (SECURITY.md). The token is used for this one call
and never stored.

Atlassian documents no email-verification flag on ``/me``: the email of an active Atlassian
account is taken as that account's verified address (an Atlassian account signs in with it),
and a response that says ``email_verified: false`` is refused (docs/signin.md).
"""

from __future__ import annotations

from services.atlassian.errors import OAuthError
from services.atlassian.oauth import AtlassianOAuth
from services.signin.errors import SignInFailed
from services.users.models import VerifiedIdentity

SCOPES = ("read:me",)


class AtlassianSignIn:
    """The client side of "Sign in with Atlassian"."""

    id = "atlassian"
    name = "Atlassian"

    def __init__(self, oauth: AtlassianOAuth) -> None:
        self._oauth = oauth

    async def authorization_url(
        self, redirect_uri: str, *, state: str, nonce: str, code_verifier: str
    ) -> str:
        """Atlassian's consent URL for ``read:me`` (nonce and verifier are OIDC's only)."""
        return self._oauth.authorization_url(redirect_uri, SCOPES, state)

    async def identity(
        self, code: str, redirect_uri: str, *, nonce: str, code_verifier: str
    ) -> VerifiedIdentity:
        """Redeem the code and read who consented."""
        try:
            tokens = await self._oauth.exchange_code(code, redirect_uri)
            profile = await self._oauth.me(tokens.access_token)
        except (OAuthError, ValueError) as exc:
            raise SignInFailed(f"Atlassian refused the sign-in: {exc}") from None
        if profile.account_status not in (None, "active"):
            raise SignInFailed(f"this Atlassian account is {profile.account_status}")
        if profile.email is None:
            raise SignInFailed(
                "Atlassian did not share this account's email address; Vigil needs it to "
                "match your invitation"
            )
        return VerifiedIdentity(
            provider=self.id,
            subject=profile.account_id,
            email=profile.email.strip().lower(),
            email_verified=profile.email_verified is not False,
            display_name=profile.name,
            atlassian_account_id=profile.account_id,
        )
