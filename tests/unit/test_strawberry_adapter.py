"""What ``resolvers/strawberry_adapter.py`` takes from Strawberry's and graphql-core's
non-public parts still works as the adapter expects, against the installed versions.

Each check fails with a message naming the adapter and the versions installed: after an
upgrade (``make test-newest``), update the adapter (its docstring says what each entry is for)
rather than the code that uses it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from importlib.metadata import version
from typing import Any

import pytest
import strawberry
from graphql import GraphQLError, GraphQLObjectType, GraphQLSchema, GraphQLSyntaxError, Source
from starlette.requests import Request
from strawberry.asgi import GraphQL
from strawberry.types import ExecutionResult

from resolvers.strawberry_adapter import (
    ExecutionContextBase,
    Operation,
    OperationStreamClosed,
    PreExecutionError,
    StrawberryHTTPError,
    TransportWSHandler,
    UnsetType,
    core_schema,
    describe_enum_values,
    field_types,
    is_list_type,
    is_strawberry_enum,
    optional_of,
    plain_attribute,
)

ADAPTER = "resolvers/strawberry_adapter.py"


@contextmanager
def relied_on(what: str) -> Iterator[None]:
    """Turn any failure inside into one that names the adapter and the library versions."""
    try:
        yield
    except Exception as exc:
        versions = (
            f"strawberry-graphql {version('strawberry-graphql')}, "
            f"graphql-core {version('graphql-core')}"
        )
        pytest.fail(
            f"{ADAPTER} relies on {what}, which no longer holds with {versions}: {exc!r}. "
            "Update the adapter (its docstring says what each entry is for).",
            pytrace=True,
        )


@strawberry.type
class Thing:
    display_name: str

    @strawberry.field
    def computed(self) -> str:
        return f"computed {self.display_name}"


@strawberry.type
class Query:
    @strawberry.field
    def thing(self) -> Thing:
        return Thing(display_name="ann")


class FakeSocket:
    """What the handler sends and how it closes, instead of a WebSocket."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.closed: tuple[int, str] | None = None

    async def send_json(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


def handler_with(socket: FakeSocket) -> TransportWSHandler[None, None]:
    return TransportWSHandler(
        view=None,
        websocket=socket,
        context=None,
        root_value=None,
        schema=strawberry.Schema(query=Query),
        connection_init_wait_timeout=timedelta(seconds=5),
        max_subscriptions_per_connection=None,
    )


def operation(handler: TransportWSHandler[None, None], op_id: str) -> Operation[None, None]:
    registered = Operation(handler, op_id, "{ thing { computed } }", None, None)
    handler.operations[op_id] = registered
    return registered


async def test_the_transport_ws_handler_reports_pre_execution_errors() -> None:
    with relied_on("the graphql-transport-ws handler's private _handle_pre_execution_error"):
        socket = FakeSocket()
        handler = handler_with(socket)
        refused = PreExecutionError(data=None, errors=[GraphQLError("Cannot query field 'x'")])
        await handler.send_pre_execution_error(operation(handler, "1"), refused)
        assert socket.sent == [
            {"id": "1", "type": "error", "payload": [refused.errors[0].formatted]}
        ], socket.sent
        assert "1" not in handler.operations and socket.closed is None

        syntax = GraphQLSyntaxError(Source("{"), 1, "Expected Name, found <EOF>.")
        with pytest.raises(OperationStreamClosed):
            await handler.send_pre_execution_error(
                operation(handler, "2"), PreExecutionError(data=None, errors=[syntax])
            )
        assert socket.closed is not None and socket.closed[0] == 4400


async def test_the_transport_ws_handler_refuses_incremental_delivery() -> None:
    with relied_on("the graphql-transport-ws handler's private _reject_incremental_delivery"):
        socket = FakeSocket()
        handler = handler_with(socket)
        await handler.reject_incremental_delivery(operation(handler, "1"))
        [message] = socket.sent
        assert message["id"] == "1" and message["type"] == "error", message
        assert "Incremental delivery" in message["payload"][0]["message"]


async def test_a_stream_starts_with_a_pre_execution_error_for_a_refused_document() -> None:
    with relied_on("Schema.stream yielding PreExecutionError (an ExecutionResult) first"):
        assert issubclass(PreExecutionError, ExecutionResult)
        stream = await strawberry.Schema(query=Query).stream("{ nope }")
        first = await anext(stream)
        await stream.aclose()
        assert isinstance(first, PreExecutionError), first


def test_core_schema_is_the_graphql_core_schema_the_strawberry_schema_serves() -> None:
    with relied_on("Strawberry keeping its graphql-core schema (the types it serves)"):
        core = core_schema(strawberry.Schema(query=Query))
        assert isinstance(core, GraphQLSchema)
        thing = core.get_type("Thing")
        assert isinstance(thing, GraphQLObjectType)
        assert set(thing.fields) == {"displayName", "computed"}


def test_unset_is_of_unset_type() -> None:
    with relied_on("UnsetType being the type of strawberry.UNSET"):
        assert isinstance(strawberry.UNSET, UnsetType)


async def test_the_http_view_refuses_with_the_adapters_exception() -> None:
    with relied_on("Strawberry's HTTP view raising cross_web.HTTPException on a refusal"):
        view = GraphQL(strawberry.Schema(query=Query))
        scope = {"type": "http", "method": "PUT", "path": "/", "headers": [], "query_string": b""}
        with pytest.raises(StrawberryHTTPError) as refused:
            await view.run(Request(scope))
        assert refused.value.status_code == 405 and refused.value.reason


async def test_the_execution_context_base_and_plain_attributes() -> None:
    seen: list[tuple[str, str | None]] = []

    class Probe(ExecutionContextBase):
        def collect_and_execute_subfields(
            self,
            return_type: Any,
            field_details_list: Any,
            path: Any,
            result: Any,
            position_context: Any,
        ) -> Any:
            grouped, defer_usages, _ = self.collect_subfields(return_type, field_details_list)
            assert not defer_usages and self.middleware_manager is not None
            for key, details in grouped.items():
                seen.append((key, plain_attribute(return_type.fields[details[0].node.name.value])))
            return super().collect_and_execute_subfields(
                return_type, field_details_list, path, result, position_context
            )

    with relied_on("Strawberry's execution context and the strawberry-definition back-reference"):
        schema = strawberry.Schema(query=Query, execution_context_class=Probe)
        result = await schema.execute("{ thing { displayName computed } }")
        assert result.errors is None and result.data == {
            "thing": {"displayName": "ann", "computed": "computed ann"}
        }
        assert ("displayName", "display_name") in seen and ("computed", None) in seen, seen


class Colour(enum.Enum):
    """A domain enum, made a GraphQL enum by the test."""

    RED = "red"
    BLUE = "blue"


def test_enum_values_are_described_on_strawberrys_definition() -> None:
    with relied_on("the __strawberry_definition__ of an enum and its values' description"):
        assert not is_strawberry_enum(Colour)
        strawberry.enum(Colour, name="Colour", description="A colour.")
        assert is_strawberry_enum(Colour)
        describe_enum_values(Colour, {Colour.RED: "Like blood.", Colour.BLUE: "Like the sky."})

        @strawberry.type
        class WithColour:
            colour: Colour = Colour.RED

        sdl = strawberry.Schema(query=WithColour).as_str()
        assert '"""Like blood."""\n  RED' in sdl and '"""Like the sky."""\n  BLUE' in sdl, sdl


@strawberry.type
class WithKinds:
    tags: list[str]
    owner_id: strawberry.ID | None
    size: int


def test_field_types_say_which_fields_are_lists_and_which_optional() -> None:
    with relied_on("StrawberryList and StrawberryOptional as a type definition's field types"):
        kinds = field_types(WithKinds)
        assert set(kinds) == {"tags", "owner_id", "size"}
        assert is_list_type(kinds["tags"]) and not is_list_type(kinds["size"])
        assert optional_of(kinds["owner_id"]) is strawberry.ID
        assert optional_of(kinds["tags"]) is None and optional_of(kinds["size"]) is None
        assert field_types(Colour) == {}
