"""The one module that names parts of Strawberry that are not its public API.

The rest of Vigil uses Strawberry and graphql-core through their public surface only: the
names exported by ``strawberry``, ``strawberry.types``, ``strawberry.extensions``,
``strawberry.asgi``, ``strawberry.scalars``, ``strawberry.exceptions`` and
``strawberry.subscriptions``, the documented hooks of the view (``get_context``,
``on_ws_connect``, ``decode_json``) and of schema extensions (``on_validate``,
``on_operation``, ``on_stream_result``), and the names exported by ``graphql``.
``tests/unit/test_public_library_apis.py`` fails when any other module imports a Strawberry
module outside that list, a graphql-core submodule, or touches an underscore name of either.

What follows has no public counterpart; each entry says why it is needed, and
``tests/unit/test_strawberry_adapter.py`` fails, naming this module, when a Strawberry or
graphql-core release removes or changes it (``make test-newest`` runs that test against the
newest releases the pins allow):

- ``TransportWSHandler``: Strawberry's ``graphql-transport-ws`` handler, which
  ``api/sockets.py`` extends (key re-checks, rate limit, shared subscriptions). Its
  pre-execution-error and incremental-delivery steps are private methods, and a closed
  operation stream is signalled by a private exception: they are offered here under public
  names (``send_pre_execution_error``, ``reject_incremental_delivery``,
  ``OperationStreamClosed``). ``Operation``, ``Message`` and ``ErrorMessage`` are the
  handler's own types.
- ``PreExecutionError``: the result ``Schema.stream`` yields first when an operation fails
  before it runs (``strawberry.types.execution``, not exported by ``strawberry.types``).
- ``UnsetType``: the type of ``strawberry.UNSET``, which ``on_ws_connect`` returns to accept a
  socket without an acknowledgement payload.
- ``StrawberryHTTPError``: what Strawberry's HTTP view raises for a request it refuses
  (``cross_web.HTTPException``, a dependency of Strawberry that Vigil does not declare).
- ``ExecutionContextBase`` and ``plain_attribute``: Strawberry's graphql-core execution
  context (it accepts the ``operation_extensions`` Strawberry passes) for
  ``resolvers/plain_execution.py``, and the Strawberry field behind a graphql-core field,
  found through the converter's back-reference in the field's ``extensions``.
- ``core_schema``: the graphql-core schema a Strawberry schema serves (its types, which
  fields are lists, which take ``first``), for the operation cost (``resolvers/limits.py``)
  measured before validation; Strawberry keeps it in a private attribute.
- ``StrawberryField``: the type a ``FieldExtension``'s ``apply`` receives (not exported by a
  public module).
- ``describe_enum_values`` and ``is_strawberry_enum``: Strawberry describes enum values only
  when the enum's own class body says ``strawberry.enum_value(..., description=...)``; the
  domain enums live in ``services/`` (no Strawberry there), so the descriptions are set on
  Strawberry's definition of the enum, read from the class.
- ``field_types``, ``is_list_type`` and ``optional_of``: the GraphQL type of each field of a
  Strawberry type, and whether it is a list or an optional (``StrawberryList`` and
  ``StrawberryOptional``, not exported by ``strawberry.types``): ``resolvers/mapping.py``
  makes the list a list field holds from a domain tuple, and an empty optional id null.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, TypeVar

from cross_web import HTTPException as StrawberryHTTPError
from graphql import GraphQLField, GraphQLSchema
from strawberry import Schema
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
    _OperationStreamClosed,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ErrorMessage, Message
from strawberry.types.base import StrawberryList, StrawberryOptional, get_object_definition
from strawberry.types.enum import StrawberryEnumDefinition
from strawberry.types.execution import PreExecutionError
from strawberry.types.field import StrawberryField
from strawberry.types.unset import UnsetType

__all__ = [
    "ErrorMessage",
    "ExecutionContextBase",
    "Message",
    "Operation",
    "OperationStreamClosed",
    "PreExecutionError",
    "StrawberryField",
    "StrawberryHTTPError",
    "TransportWSHandler",
    "UnsetType",
    "core_schema",
    "describe_enum_values",
    "field_types",
    "is_list_type",
    "is_strawberry_enum",
    "optional_of",
    "plain_attribute",
]

ContextT = TypeVar("ContextT")
RootT = TypeVar("RootT")
E = TypeVar("E", bound=enum.Enum)

#: Raised inside an operation's task when Strawberry closed the socket for it: the
#: operation is over and nothing more may be sent for it.
OperationStreamClosed = _OperationStreamClosed

#: Strawberry's execution context over graphql-core's (``Schema(execution_context_class=…)``).
ExecutionContextBase = StrawberryGraphQLCoreExecutionContext


class TransportWSHandler(BaseGraphQLTransportWSHandler[ContextT, RootT]):
    """Strawberry's ``graphql-transport-ws`` handler with its private steps made public."""

    async def send_pre_execution_error(
        self, operation: Operation[ContextT, RootT], result: PreExecutionError
    ) -> None:
        """Answer an operation refused before it ran as Strawberry does (an ``error``
        message, or close 4400 for a document that does not parse); raises
        ``OperationStreamClosed`` when it closed the socket."""
        await self._handle_pre_execution_error(operation, result)

    async def reject_incremental_delivery(self, operation: Operation[ContextT, RootT]) -> None:
        """Refuse ``@defer``/``@stream`` results, which this protocol cannot carry."""
        await self._reject_incremental_delivery(operation)


def plain_attribute(field: GraphQLField) -> str | None:
    """The Python attribute a graphql-core field reads when Strawberry resolves it by a plain
    ``getattr`` (no resolver, no extension, no permission), else None."""
    definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(definition, StrawberryField) or not definition.is_basic_field:
        return None
    return definition.python_name


def field_types(cls: type[Any]) -> dict[str, object]:
    """The GraphQL type of each field of the Strawberry type ``cls``, by Python name (none for a
    class that is not one)."""
    definition = get_object_definition(cls)
    return {f.python_name: f.type for f in definition.fields} if definition else {}


def is_list_type(kind: object) -> bool:
    """Whether a field type from ``field_types`` is a list."""
    return isinstance(kind, StrawberryList)


def optional_of(kind: object) -> object | None:
    """What an optional field type from ``field_types`` holds when it is not null, else None."""
    return kind.of_type if isinstance(kind, StrawberryOptional) else None


def core_schema(schema: Schema) -> GraphQLSchema:
    """The graphql-core schema ``schema`` serves."""
    core: GraphQLSchema = schema._schema
    return core


def is_strawberry_enum(cls: type[enum.Enum]) -> bool:
    """Whether ``strawberry.enum`` already made ``cls`` itself a GraphQL enum."""
    return isinstance(_enum_definition(cls), StrawberryEnumDefinition)


def describe_enum_values(cls: type[E], descriptions: Mapping[E, str]) -> None:
    """Describe each value of ``cls``, already made a Strawberry enum by ``strawberry.enum``."""
    definition = _enum_definition(cls)
    if not isinstance(definition, StrawberryEnumDefinition):
        raise TypeError(f"{cls.__name__} is not a Strawberry enum")
    for value in definition.values:
        value.description = descriptions[cls[value.name]]


def _enum_definition(cls: type[enum.Enum]) -> Any:
    """Strawberry's definition of the enum ``cls`` itself (not one inherited), if any."""
    return vars(cls).get("__strawberry_definition__")
