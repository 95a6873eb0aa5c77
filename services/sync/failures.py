"""What a failed run records: a message for people, the failing endpoint, and whether the
integration must be re-authorised (the credential itself was refused)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from services.atlassian.errors import InvalidClient, InvalidGrant, InvalidToken
from services.confluence import paths
from services.confluence.errors import (
    ConfluenceAuthError,
    ConfluenceError,
    ConfluenceNotFound,
    ConfluenceRateLimited,
    ConfluenceScopeError,
    ConfluenceStatusError,
)
from services.crypto import CredentialDecryptError
from services.integrations.errors import InvalidCredentials
from services.integrations.tokens import CredentialUnavailable, ReauthRequired
from services.sync.pager import StreamFailed
from services.sync.progress import Disconnected, LeaseLost

RECONNECT = "reconnect Confluence"
# v2 OpenAPI, POST /users-bulk: 404 "if the calling user does not have permission to use
# Confluence or view user profiles"; it needs the 'Can use' global permission and the right
# to view user profiles.
CANNOT_VIEW_USERS = (
    "Confluence answered 404 to users-bulk: the connected account cannot view users. Give it "
    "the 'Can use' global permission and the permission to view user profiles (a Confluence "
    "admin has both), or reconnect with such an account, then sync again."
)
DECRYPT_FAILED = (
    "The stored Confluence credential could not be decrypted: check that VIGIL_SECRET_KEY (or "
    "VIGIL_SECRET_KEYS_OLD) still holds the key it was saved with, or reconnect Confluence."
)
_OAUTH_REFUSED = (InvalidGrant, InvalidClient, InvalidToken, ReauthRequired)


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a run failed."""

    message: str
    endpoint: str | None = None
    needs_reauth: bool = False
    status: int | None = None
    unexpected: bool = False
    # No sync should start before this (Atlassian refuses until then: an exhausted quota).
    not_before: datetime | None = None
    # The integration was disconnected during the run: no alert, no follow-up.
    disconnected: bool = False


class CommitRejected(Exception):
    """The snapshot could not be made current (fenced out, or no longer CONNECTED)."""


def describe(exc: BaseException) -> Failure:
    """The ``Failure`` for an exception that ended a run."""
    endpoint: str | None = None
    cause = exc
    if isinstance(exc, StreamFailed):
        endpoint, cause = exc.endpoint, exc.cause
    status = cause.status if isinstance(cause, ConfluenceStatusError) else None
    if isinstance(cause, InvalidCredentials):
        return Failure(cause.message, endpoint, needs_reauth=True)
    if isinstance(cause, (ConfluenceAuthError, *_OAUTH_REFUSED)):
        return Failure(_auth_message(cause, endpoint), endpoint, needs_reauth=True, status=status)
    if isinstance(cause, ConfluenceNotFound) and endpoint == paths.USERS_BULK:
        return Failure(CANNOT_VIEW_USERS, endpoint, status=status)
    if isinstance(cause, ConfluenceRateLimited) and cause.until is not None:
        message = _rate_limited(cause, cause.until)
        return Failure(message, endpoint, status=status, not_before=cause.until)
    if isinstance(cause, ConfluenceError):
        where = f"{endpoint} " if endpoint else ""
        return Failure(f"Confluence request {where}failed: {cause}", endpoint, status=status)
    if isinstance(cause, CredentialDecryptError):
        return Failure(DECRYPT_FAILED, endpoint)
    if isinstance(cause, Disconnected):
        return Failure(str(cause), endpoint, disconnected=True)
    if isinstance(cause, LeaseLost | CommitRejected | CredentialUnavailable):
        return Failure(str(cause), endpoint)
    return Failure("internal error while syncing (see the worker log)", endpoint, unexpected=True)


def _rate_limited(cause: ConfluenceRateLimited, until: datetime) -> str:
    at = until.astimezone(UTC).strftime("%H:%M UTC")
    if cause.quota_exhausted:
        return (
            f"Atlassian's API quota is exhausted until {at}: the next sync starts after that "
            "(OAuth apps have an hourly points quota)."
        )
    return f"Confluence rate-limited Vigil until {at}: the next sync starts after that."


def _auth_message(cause: BaseException, endpoint: str | None) -> str:
    if endpoint == paths.ADMIN_DIRECTORY_USERS_SEARCH:
        return (
            "The Atlassian Admin API refused the organization admin API key (HTTP 401): "
            "set a new admin key for this integration."
        )
    if isinstance(cause, ConfluenceScopeError):
        return (
            "Confluence refused the access token because a scope is missing: "
            f"{RECONNECT} and grant every requested scope."
        )
    if isinstance(cause, _OAUTH_REFUSED):
        return f"Atlassian no longer accepts Vigil's authorization: {RECONNECT}."
    where = f" on {endpoint}" if endpoint else ""
    return f"Confluence refused the credential (HTTP 401{where}): {RECONNECT}."
