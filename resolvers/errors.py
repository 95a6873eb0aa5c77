"""The error convention of the GraphQL API (docs/api.md).

- Expected mutation outcomes are ``userErrors`` whose ``field`` path starts at the
  mutation's argument name (``["input", "email"]``, ``["id"]``).
- Every GraphQL error carries ``extensions.code``: ``NOT_FOUND``, ``FORBIDDEN``,
  ``UNAUTHENTICATED``, ``CONFLICT``, ``BAD_USER_INPUT`` (validation, malformed query or
  variables) or ``INTERNAL`` (masked, with ``extensions.requestId``).
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar, dataclass_transform

import strawberry
from graphql import GraphQLError
from strawberry.extensions import FieldExtension, MaskErrors, SchemaExtension
from strawberry.types import StreamExecutionResult, get_object_definition, has_object_definition

from resolvers.relay import USER_ERRORS
from resolvers.strawberry_adapter import StrawberryField
from services.errors import Conflict, DomainError, Forbidden, NotFound
from services.people.validation import InvalidPeople

log = logging.getLogger("vigil.graphql")

#: ``extensions.code`` of a domain error, by the domain error's own code.
ERROR_CODES: Mapping[str, str] = {
    "NOT_FOUND": "NOT_FOUND",
    "FORBIDDEN": "FORBIDDEN",
    "UNAUTHENTICATED": "UNAUTHENTICATED",
    "CONFLICT": "CONFLICT",
}
BAD_USER_INPUT = "BAD_USER_INPUT"


@strawberry.type(
    description="An expected failure of a mutation: which input, a stable code, what to do. "
    "See docs/api.md for the codes."
)
class UserError:
    field: list[str] | None = strawberry.field(
        description="Path to the input at fault, starting at the mutation's argument name "
        '(e.g. `["input", "email"]`, `["input", "0", "offboardedAt"]`, `["id"]`); null when '
        "no single input is at fault."
    )
    code: str = strawberry.field(
        description="Stable machine-readable code, e.g. VALIDATION_FAILED, NOT_FOUND, "
        "FORBIDDEN, CONFLICT, INVALID_STATE, INVALID_PEOPLE."
    )
    message: str = strawberry.field(description="Human-readable explanation (English).")


#: Input fields whose service-layer (and CSV) name is snake_case; the API says camelCase.
_CAMEL: Mapping[str, str] = {
    "offboarded_at": "offboardedAt",
    "job_role": "jobRole",
    "start_date": "startDate",
}
_SNAKE = re.compile(r"(?<![\w.@-])(" + "|".join(_CAMEL) + r")(?![\w@-])")


def camel(text: str) -> str:
    """``offboarded_at`` → ``offboardedAt`` for every input field named in ``text``."""
    return _SNAKE.sub(lambda m: _CAMEL[m.group(1)], text)


def field_path(path: Sequence[str] | None, arguments: Sequence[str]) -> list[str] | None:
    """A service's field path made to start at one of the operation's argument names.

    Services name inputs by their input-object field (``email``); a mutation taking ``input``
    reports ``["input", "email"]``. A one-argument mutation whose service named the argument
    differently (``integrationId`` for ``disconnectIntegration(id)``) reports the argument.
    """
    if path is None:
        return None
    parts = [camel(p) for p in path]
    if parts[:1] == ["input"] and "input" not in arguments:
        parts = parts[1:]
    if not parts or parts[0] in arguments:
        return parts
    if "input" in arguments:
        return ["input", *parts]
    if len(arguments) == 1:
        return [arguments[0], *parts[1:]]
    return parts


def argument_names(info: strawberry.Info[Any, Any] | None) -> list[str]:
    """The GraphQL argument names of the field being resolved."""
    if info is None or info.path.typename is None:
        return []
    field = info.schema.get_field_for_type(field_name=info.field_name, type_name=info.path.typename)
    names = info.schema.config.name_converter
    return [names.from_argument(a) for a in field.arguments] if field is not None else []


def user_errors(exc: DomainError, info: strawberry.Info[Any, Any] | None = None) -> list[UserError]:
    """The ``userErrors`` list for a domain error (paths start at the argument name).

    Without ``info`` the service's path is kept as it is. A refused batch of people
    (``InvalidPeople``) gives one error per problem, at ``["input", <row>, <field>]``.
    """
    if isinstance(exc, InvalidPeople):
        return [
            UserError(
                field=["input", str(p.row)] + ([camel(p.field)] if p.field else []),
                code="VALIDATION_FAILED",
                message=camel(p.reason),
            )
            for p in exc.problems
        ]
    path = field_path(exc.field, argument_names(info)) if info is not None else exc.field
    return [UserError(field=path, code=exc.code, message=camel(exc.message))]


class UserErrors(FieldExtension):
    """The one way a mutation turns a domain error into ``userErrors`` (docs/api.md).

    The resolver returns its success payload; a ``DomainError`` it raises becomes
    ``Payload(user_errors=user_errors(error, info))``, the payload being the mutation's
    return type. Anything else propagates (a GraphQL error, masked when unexpected).
    """

    def __init__(self) -> None:
        self._payload: Callable[..., Any] | None = None

    def apply(self, field: StrawberryField) -> None:
        """Remember the payload type; it must have a ``user_errors`` field."""
        payload = field.type
        if not (isinstance(payload, type) and has_object_definition(payload)) or not any(
            f.python_name == "user_errors"
            for f in get_object_definition(payload, strict=True).fields
        ):
            raise TypeError(f"{field.python_name}: {payload!r} has no user_errors field")
        self._payload = payload

    async def resolve_async(
        self,
        next_: Callable[..., Awaitable[Any]],
        source: Any,
        info: strawberry.Info[Any, Any],
        **kwargs: Any,
    ) -> Any:
        """The resolver's payload, or the payload of the domain error it raised."""
        try:
            return await next_(source, info, **kwargs)
        except DomainError as exc:
            assert self._payload is not None
            errors = user_errors(exc, info)
            return self._payload(user_errors=errors)


T = TypeVar("T", bound=type)


@dataclass_transform(
    order_default=False, kw_only_default=True, field_specifiers=(strawberry.field, StrawberryField)
)
def payload(description: str) -> Callable[[T], T]:
    """A mutation's payload type: the fields the class declares, then ``userErrors`` (empty
    on success, described by ``USER_ERRORS``) unless the class declares its own."""

    def make(cls: T) -> T:
        if "user_errors" not in inspect.get_annotations(cls):
            cls.__annotations__["user_errors"] = list[UserError]
            cls.user_errors = strawberry.field(  # type: ignore[attr-defined]
                default_factory=list, description=USER_ERRORS
            )
        return strawberry.type(cls, description=description)

    return make


def result_field(text: str) -> Any:
    """A payload's result field (``default=None``), described as ``text``: null when the
    mutation answers ``userErrors``, as ``USER_ERRORS`` says."""
    return strawberry.field(default=None, description=f"{text}; null on userErrors.")


def mutation(description: str, **kwargs: Any) -> Any:
    """A mutation field under the ``userErrors`` convention: ``strawberry.mutation`` with the
    ``UserErrors`` extension, so that every mutation maps domain errors the same way."""
    return strawberry.mutation(description=description, extensions=[UserErrors()], **kwargs)


def _is_unexpected(error: GraphQLError) -> bool:
    original = error.original_error
    return original is not None and not isinstance(original, DomainError | GraphQLError)


def error_code(error: GraphQLError) -> str:
    """``extensions.code`` for an error that is not masked."""
    original = error.original_error
    if not isinstance(original, DomainError):
        return BAD_USER_INPUT
    if original.code in ERROR_CODES:
        return ERROR_CODES[original.code]
    for kind, code in ((NotFound, "NOT_FOUND"), (Forbidden, "FORBIDDEN"), (Conflict, "CONFLICT")):
        if isinstance(original, kind):
            return code
    return BAD_USER_INPUT


def with_code(error: GraphQLError) -> GraphQLError:
    """The error with ``extensions.code`` (and the input ``field`` of a domain error)."""
    extensions = dict(error.extensions or {})
    if "code" in extensions:
        return error
    extensions["code"] = error_code(error)
    original = error.original_error
    if isinstance(original, DomainError):
        if original.field:
            extensions["field"] = [camel(p) for p in original.field]
        message = camel(original.message)
    else:
        message = error.message
    return _in_place_of(error, message, original, extensions)


def _in_place_of(
    error: GraphQLError,
    message: str,
    original: Exception | None,
    extensions: dict[str, Any],
) -> GraphQLError:
    """A new error where ``error`` was (its nodes, source, positions and path) with this
    message, original error and extensions."""
    return GraphQLError(
        message=message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=original,
        extensions=extensions,
    )


class MaskUnexpectedErrors(MaskErrors):
    """Mask unexpected exceptions: "internal error" + request id, logged once."""

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
        masked = f"internal error (request id {request_id})"
        return _in_place_of(error, masked, None, {"code": "INTERNAL", "requestId": request_id})


class CodeErrors(SchemaExtension):
    """Every error that is not masked gets its ``extensions.code`` (``with_code``), in the
    result of an operation and in every result of a stream (subscriptions)."""

    def on_operation(self) -> Iterator[None]:
        """Code the errors of the operation's result."""
        yield
        _code_errors(self.execution_context.result)

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        """Code the errors of one result of a stream before it is sent."""
        _code_errors(result)
        yield


def _code_errors(result: object) -> None:
    """``with_code`` on each error of ``result``; unexpected ones are left to the masking."""
    errors = getattr(result, "errors", None)
    if errors:
        result.errors = [e if _is_unexpected(e) else with_code(e) for e in errors]  # type: ignore[attr-defined]


def _request_id(context: Any) -> str:
    return str(getattr(context, "request_id", "unknown"))
