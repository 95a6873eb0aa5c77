"""Every mutation's `userErrors.field` follows the documented rule (docs/api.md): a path that
starts at one of the mutation's argument names and walks its input types (list positions
as numbers) to the input at fault. Generated from the schema: each mutation is sent over
HTTP with inputs made to be refused (unknown ids, empty text, times long past, no
confirmation), and every path it answers is checked against its arguments' types."""

from __future__ import annotations

from typing import Any

import httpx
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
)

from resolvers.schema import build_schema
from testkit.live import live_server as serving

SCALARS: dict[str, Any] = {
    "String": "",
    "ID": "nope",
    "Int": -1,
    "Float": -1.0,
    "Boolean": False,
    "DateTime": "2000-01-01T00:00:00Z",
    "Date": "2000-01-01",
    "JSON": {},
}


def bad_value(kind: GraphQLInputType) -> Any:
    """A value of ``kind`` a mutation should refuse (every field of an input given)."""
    if isinstance(kind, GraphQLNonNull):
        return bad_value(kind.of_type)
    if isinstance(kind, GraphQLList):
        return [bad_value(kind.of_type)]
    if isinstance(kind, GraphQLEnumType):
        return next(iter(kind.values))
    if isinstance(kind, GraphQLInputObjectType):
        return {name: bad_value(f.type) for name, f in kind.fields.items()}
    assert isinstance(kind, GraphQLScalarType), kind
    return SCALARS[kind.name]


def walks(path: list[str], field: GraphQLField) -> bool:
    """Whether ``path`` names an input of ``field``: an argument, then fields and positions."""
    if not path or path[0] not in field.args:
        return False
    kind: Any = field.args[path[0]].type
    for part in path[1:]:
        while isinstance(kind, GraphQLNonNull):
            kind = kind.of_type
        if isinstance(kind, GraphQLList) and part.isdigit():
            kind = kind.of_type
        elif isinstance(kind, GraphQLInputObjectType) and part in kind.fields:
            kind = kind.fields[part].type
        else:
            return False
    return True


def document(name: str, field: GraphQLField) -> str:
    declared = ", ".join(f"${a}: {arg.type}" for a, arg in field.args.items())
    passed = ", ".join(f"{a}: ${a}" for a in field.args)
    payload = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
    assert isinstance(payload, GraphQLObjectType) and "userErrors" in payload.fields, name
    return f"mutation({declared}) {{ {name}({passed}) {{ userErrors {{ field code message }} }} }}"


async def test_every_user_error_field_starts_at_an_argument_and_names_an_input() -> None:
    schema = build_schema(development=True)._schema
    assert schema.mutation_type is not None
    mutations = schema.mutation_type.fields
    async with serving() as live, httpx.AsyncClient(timeout=30) as http:
        _org, created = await live.container.services.organizations.create_organization("Acme")
        auth = {"Authorization": f"Bearer {created.secret}"}
        wrong: list[str] = []
        with_fields: dict[str, list[list[str]]] = {}
        for name, field in mutations.items():
            variables = {a: bad_value(arg.type) for a, arg in field.args.items()}
            response = await http.post(
                live.graphql_url,
                json={"query": document(name, field), "variables": variables},
                headers=auth,
            )
            body = response.json()
            assert response.status_code == 200 and "errors" not in body, (name, body)
            for error in body["data"][name]["userErrors"]:
                if error["field"] is None:
                    continue
                with_fields.setdefault(name, []).append(error["field"])
                if not walks(error["field"], field):
                    wrong.append(f"{name}: {error['field']} ({error['code']})")
    assert wrong == []
    # Not vacuous: most mutations refused something named; these exactly so.
    assert len(with_fields) >= len(mutations) // 2, sorted(set(mutations) - set(with_fields))
    assert ["input", "confirm"] in with_fields["executeRemediation"]
    assert ["input", "personId"] in with_fields["offboardPerson"]
    assert ["input", "0", "email"] in with_fields["upsertPeople"]
