"""Domain errors raised by services and mapped to GraphQL ``userErrors`` by resolvers.

::

    VigilError
    ├── DomainError                 expected failures; each has a stable ``code``
    │   ├── ValidationFailed        VALIDATION_FAILED  bad input (``field`` names it)
    │   ├── NotFound                NOT_FOUND          missing, or in another organization
    │   ├── Forbidden               FORBIDDEN          the caller's role may not do this
    │   └── Conflict                CONFLICT           state forbids it (codes may be refined)
    ├── AlreadyExists               the store refused a second object with the same unique key
    ├── DocumentTooLarge            the store refused to write a document over its size limit
    └── ConfigurationError          the process cannot start as configured

Messages are shown to API callers: they never contain secrets.
"""

from __future__ import annotations

from collections.abc import Sequence


class VigilError(Exception):
    """Base of every error Vigil raises on purpose."""


class DomainError(VigilError):
    """An expected failure that becomes a ``userErrors`` entry."""

    code = "ERROR"

    def __init__(
        self, message: str, *, field: Sequence[str] | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = list(field) if field is not None else None
        if code is not None:
            self.code = code


class ValidationFailed(DomainError):
    """Input that cannot be accepted as given."""

    code = "VALIDATION_FAILED"


class NotFound(DomainError):
    """The object does not exist in the caller's organization."""

    code = "NOT_FOUND"


class Forbidden(DomainError):
    """The caller's role does not allow the operation."""

    code = "FORBIDDEN"


class Conflict(DomainError):
    """The current state does not allow the operation."""

    code = "CONFLICT"


class AlreadyExists(VigilError):
    """The store already holds an object with this unique key (never a driver exception).

    Not a ``DomainError``: the service that asked for the insert says what it means to the
    caller (``Conflict`` with its own code and message), or it is a bug.
    """


class DocumentTooLarge(VigilError):
    """The store refused to write a document over its size limit (``VIGIL_MAX_DOCUMENT_BYTES``).

    Not a ``DomainError``: it is not the caller's input at fault but data that grew past what
    one document may hold. Whoever writes derived data says what it means (the check engine
    turns the result into ``ERROR``); elsewhere it is a bug, logged with the request id.
    """

    def __init__(self, collection: str, size: int, limit: int) -> None:
        super().__init__(
            f"a {size:,}-byte document for {collection} is over the store's limit of "
            f"{limit:,} bytes"
        )
        self.collection = collection
        self.size = size
        self.limit = limit


class ConfigurationError(VigilError):
    """The process is configured in a way it refuses to run with."""
