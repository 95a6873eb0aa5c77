"""Every part of the schema is described: a frontend builds on the schema alone (issue 14)."""

from __future__ import annotations

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
)

from resolvers.schema import build_schema

BUILT_IN = {"String", "Int", "Float", "Boolean", "ID"}


def _graphql_schema() -> GraphQLSchema:
    return build_schema(development=True)._schema


def undescribed(schema: GraphQLSchema) -> list[str]:
    """Every type, field, argument, input field and enum value without a description."""
    missing: list[str] = []

    def check(path: str, description: str | None) -> None:
        if not (description or "").strip():
            missing.append(path)

    for name, type_ in sorted(schema.type_map.items()):
        if name.startswith("__") or name in BUILT_IN:
            continue
        check(name, type_.description)
        if isinstance(type_, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in type_.fields.items():
                check(f"{name}.{field_name}", field.description)
                for arg_name, arg in field.args.items():
                    check(f"{name}.{field_name}({arg_name})", arg.description)
        elif isinstance(type_, GraphQLInputObjectType):
            for field_name, input_field in type_.fields.items():
                check(f"{name}.{field_name}", input_field.description)
        elif isinstance(type_, GraphQLEnumType):
            for value_name, value in type_.values.items():
                check(f"{name}.{value_name}", value.description)
    return missing


def test_every_type_field_argument_and_enum_value_is_described() -> None:
    missing = undescribed(_graphql_schema())
    assert not missing, f"{len(missing)} schema elements lack a description:\n" + "\n".join(missing)


def test_the_walk_notices_a_missing_description() -> None:
    schema = _graphql_schema()
    field = schema.type_map["Query"].fields["me"]  # type: ignore[union-attr]
    saved = field.description
    field.description = None
    try:
        assert "Query.me" in undescribed(schema)
    finally:
        field.description = saved


def test_page_sizes_are_stated_on_every_connection_argument() -> None:
    schema = _graphql_schema()
    for type_ in (schema.query_type, schema.type_map["AccessReview"]):
        assert isinstance(type_, GraphQLObjectType)
        for name, field in type_.fields.items():
            if "first" in field.args:
                text = field.args["first"].description or ""
                assert "50" in text and "500" in text, f"{type_.name}.{name}(first): {text!r}"
