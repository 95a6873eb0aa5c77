"""Why a sign-in did not complete (shown to the person on the sign-in screen)."""

from __future__ import annotations

from services.errors import DomainError


class SignInFailed(DomainError):
    """The identity provider's answer could not be accepted (refused, malformed, forged)."""

    code = "SIGN_IN_FAILED"
