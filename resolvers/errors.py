"""The ``userErrors`` convention and the masking of unexpected errors."""

from __future__ import annotations

import logging
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors

from services.errors import DomainError

log = logging.getLogger("vigil.graphql")


@strawberry.type
class UserError:
    """An expected failure of a mutation: which input, a stable code, what to do."""

    field: list[str] | None
    code: str
    message: str


def user_errors(exc: DomainError) -> list[UserError]:
    """The ``userErrors`` list for a domain error."""
    return [UserError(field=exc.field, code=exc.code, message=exc.message)]


def _is_unexpected(error: GraphQLError) -> bool:
    original = error.original_error
    return original is not None and not isinstance(original, DomainError | GraphQLError)


class MaskUnexpectedErrors(MaskErrors):
    """Replace unexpected exceptions by "internal error" plus the request id, logged once."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=_is_unexpected, error_message="internal error")

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        """Log the real error under the request id and return the masked one."""
        request_id = _request_id(self.execution_context.context)
        log.error(
            "unexpected error in GraphQL operation (request id %s)",
            request_id,
            exc_info=error.original_error,
            extra={"request_id": request_id, "path": str(error.path)},
        )
        return GraphQLError(
            message=f"internal error (request id {request_id})",
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=None,
            extensions={"code": "INTERNAL", "requestId": request_id},
        )


def _request_id(context: Any) -> str:
    return str(getattr(context, "request_id", "unknown"))
