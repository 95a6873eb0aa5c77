"""Expected failures while connecting Confluence (each a ``userErrors`` code)."""

from __future__ import annotations

from services.errors import Conflict, DomainError, ValidationFailed


class InvalidCredentials(DomainError):
    """Atlassian refused the credentials."""

    code = "INVALID_CREDENTIALS"


class ConfluenceUnavailable(DomainError):
    """Atlassian could not be reached or failed; nothing was stored."""

    code = "CONFLUENCE_UNAVAILABLE"


class AlreadyConnected(Conflict):
    """The organization already has a live integration for this purpose."""

    code = "ALREADY_CONNECTED"


class ConfirmationRequired(ValidationFailed):
    """A required confirmation box was not ticked."""

    code = "CONFIRMATION_REQUIRED"


class NotConfigured(DomainError):
    """The server lacks configuration needed for this flow."""

    code = "NOT_CONFIGURED"


class InvalidState(Conflict):
    """The integration is not in a state that allows this operation."""

    code = "INVALID_STATE"
