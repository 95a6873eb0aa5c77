"""Operations generated from the schema itself: arguments of the right types, a selection.

Every Query and Mutation field becomes a document with variables; every ``ID`` position
(arguments and input fields, required or not) receives the same value, the one under test.
A new operation is therefore covered by the suites that use this without anyone listing it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    get_named_type,
)

from resolvers.schema import build_schema

SCALARS: dict[str, Any] = {
    "String": "x",
    "Int": 1,
    "Float": 1.0,
    "Boolean": True,
    "DateTime": "2030-01-01T00:00:00Z",
    "Date": "2030-01-01",
    "JSON": {},
}


@dataclass(frozen=True)
class Operation:
    """One root field as a callable document."""

    kind: str  # "query" | "mutation"
    name: str
    field: GraphQLField
    takes_id: bool
    takes_text: bool  # a String or ID anywhere in its arguments (input objects, lists)

    def document(self) -> str:
        """``mutation Op($a: T!, …) { name(a: $a, …) { selection } }``."""
        args = self.field.args
        decl = ", ".join(f"${a}: {t.type}" for a, t in args.items())
        call = ", ".join(f"{a}: ${a}" for a in args)
        head = f"{self.kind} Op" + (f"({decl})" if decl else "")
        inner = f"{self.name}({call})" if call else self.name
        return f"{head} {{ {inner}{selection(self.field.type)} }}"

    def variables(self, id_value: str) -> dict[str, Any]:
        """Values for every argument; every ID position gets ``id_value``."""
        return {
            name: value_for(arg.type, id_value)
            for name, arg in self.field.args.items()
            if _required(arg.type) or _has_id(arg.type)
        }

    def text_variables(self, text: str) -> dict[str, Any]:
        """Values for every argument; every String and ID position (optional ones too)
        gets ``text``."""
        return {
            name: value_for(arg.type, text, text=text)
            for name, arg in self.field.args.items()
            if _required(arg.type) or _has_text(arg.type)
        }


def graphql_schema() -> GraphQLSchema:
    """The graphql-core schema Vigil serves."""
    return build_schema(development=True)._schema


def operations() -> list[Operation]:
    """Every query and mutation of the schema."""
    schema = graphql_schema()
    found: list[Operation] = []
    for kind, root in (("query", schema.query_type), ("mutation", schema.mutation_type)):
        assert root is not None
        for name, field in root.fields.items():
            takes_id = any(_has_id(a.type) for a in field.args.values())
            takes_text = any(_has_text(a.type) for a in field.args.values())
            found.append(Operation(kind, name, field, takes_id, takes_text))
    return found


def value_for(type_: GraphQLInputType, id_value: str, *, text: str | None = None) -> Any:
    """A value of ``type_`` (inputs: required fields and ID fields filled; with ``text``,
    every String position too, holding ``text``)."""
    if isinstance(type_, GraphQLNonNull):
        return value_for(type_.of_type, id_value, text=text)
    if isinstance(type_, GraphQLList):
        return [value_for(type_.of_type, id_value, text=text)]
    if isinstance(type_, GraphQLScalarType):
        if type_.name == "ID":
            return id_value
        return text if type_.name == "String" and text is not None else SCALARS[type_.name]
    if isinstance(type_, GraphQLEnumType):
        return next(iter(type_.values))
    assert isinstance(type_, GraphQLInputObjectType)
    wanted = _has_id if text is None else _has_text
    return {
        name: value_for(field.type, id_value, text=text)
        for name, field in type_.fields.items()
        if _required(field.type) or wanted(field.type)
    }


def selection(type_: GraphQLOutputType) -> str:
    """What tells one answer from another without volatile values (ids, times, messages).

    Objects: ``__typename``, ``totalCount`` and ``edges`` of connections, the typename of
    each object field (a payload's ``integration``…) and ``userErrors { code field }``.
    """
    named = get_named_type(type_)
    if not isinstance(named, GraphQLObjectType):
        return ""
    parts = ["__typename"]
    for name, field in named.fields.items():
        inner = get_named_type(field.type)
        if name == "userErrors":
            parts.append("userErrors { code field }")
        elif name == "totalCount":
            parts.append("totalCount")
        elif name == "edges":
            parts.append("edges { __typename }")
        elif isinstance(inner, GraphQLObjectType) and not field.args:
            parts.append(f"{name} {{ __typename }}")
    return " { " + " ".join(parts) + " }"


def _required(type_: Any) -> bool:
    return isinstance(type_, GraphQLNonNull)


def _has_id(type_: Any, seen: frozenset[str] = frozenset()) -> bool:
    return _has_scalar(type_, {"ID"}, seen)


def _has_text(type_: Any, seen: frozenset[str] = frozenset()) -> bool:
    return _has_scalar(type_, {"ID", "String"}, seen)


def _has_scalar(type_: Any, names: set[str], seen: frozenset[str]) -> bool:
    named = get_named_type(type_)
    if isinstance(named, GraphQLScalarType):
        return named.name in names
    if isinstance(named, GraphQLInputObjectType) and named.name not in seen:
        return any(_has_scalar(f.type, names, seen | {named.name}) for f in named.fields.values())
    return False
