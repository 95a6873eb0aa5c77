"""The resolver layer's helpers: domain enums as GraphQL enums, domain errors as userErrors
(and the payloads and mutations declared for them)."""

from __future__ import annotations

import enum
from typing import Any

import pytest
import strawberry

from resolvers.enums import graphql_enum
from resolvers.errors import UserError, UserErrors, mutation, payload
from resolvers.relay import USER_ERRORS
from services.errors import NotFound, ValidationFailed
from services.people.validation import InvalidPeople, Problem

Colour = enum.StrEnum("Colour", {"RED": "red", "DARK_BLUE": "dark_blue"})
Shape = enum.StrEnum("Shape", {"ROUND": "round", "SQUARE": "square"})


graphql_enum(
    Colour,
    name="Colour",
    description="A colour.",
    values={Colour.RED: "Like a fire engine.", Colour.DARK_BLUE: "Like the sea at night."},
)


@strawberry.type
class Paint:
    colour: Colour


@strawberry.type
class Payload:
    paint: Paint | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class PaintInput:
    colour: Colour
    email: str = ""


@strawberry.type
class Query:
    @strawberry.field
    def paint(self) -> Paint:
        return Paint(colour=Colour.DARK_BLUE)


def _mutation() -> type:
    @strawberry.type
    class Mutation:
        @strawberry.mutation(extensions=[UserErrors()])
        async def repaint(self, input: PaintInput) -> Payload:
            if input.email:
                raise ValidationFailed("email is not valid", field=["email"])
            if input.colour is Colour.RED:
                raise InvalidPeople("refused", [Problem(row=1, field="start_date", reason="bad")])
            raise NotFound("no such paint")

        @strawberry.mutation(extensions=[UserErrors()])
        async def keep(self, input: PaintInput) -> Payload:
            return Payload(paint=Paint(colour=input.colour))

    return Mutation


async def _run(schema: strawberry.Schema, query: str) -> dict[str, Any]:
    result = await schema.execute(query)
    assert result.errors is None, result.errors
    assert result.data is not None
    return result.data


def test_a_wrapped_domain_enum_is_the_graphql_enum_with_described_values() -> None:
    schema = strawberry.Schema(query=Query)
    sdl = schema.as_str()
    assert '"""A colour."""\nenum Colour {' in sdl
    assert '"""Like the sea at night."""\n  DARK_BLUE' in sdl


def test_every_member_must_be_described_and_an_enum_is_wrapped_once() -> None:
    with pytest.raises(TypeError, match="missing \\['SQUARE'\\]"):
        graphql_enum(Shape, name="Shape", description="A shape.", values={Shape.ROUND: "O"})
    with pytest.raises(TypeError, match="already a GraphQL enum"):
        graphql_enum(
            Colour, name="Other", description="x", values={Colour.RED: "r", Colour.DARK_BLUE: "b"}
        )


async def test_domain_values_pass_through_both_ways() -> None:
    schema = strawberry.Schema(query=Query, mutation=_mutation())
    assert await _run(schema, "{ paint { colour } }") == {"paint": {"colour": "DARK_BLUE"}}
    kept = await _run(schema, "mutation { keep(input: {colour: RED}) { paint { colour } } }")
    assert kept == {"keep": {"paint": {"colour": "RED"}}}


async def test_a_domain_error_becomes_the_payloads_user_errors() -> None:
    schema = strawberry.Schema(query=Query, mutation=_mutation())
    fields = "paint { colour } userErrors { field code message }"

    async def repaint(arguments: str) -> dict[str, Any]:
        data = await _run(schema, f"mutation {{ repaint(input: {arguments}) {{ {fields} }} }}")
        return data["repaint"]  # type: ignore[no-any-return]

    assert await repaint('{colour: DARK_BLUE, email: "x"}') == {
        "paint": None,
        "userErrors": [
            {
                "field": ["input", "email"],
                "code": "VALIDATION_FAILED",
                "message": "email is not valid",
            }
        ],
    }
    assert (await repaint("{colour: DARK_BLUE}"))["userErrors"] == [
        {"field": None, "code": "NOT_FOUND", "message": "no such paint"}
    ]
    assert (await repaint("{colour: RED}"))["userErrors"] == [
        {"field": ["input", "1", "startDate"], "code": "VALIDATION_FAILED", "message": "bad"}
    ]


def test_the_extension_needs_a_payload_with_user_errors() -> None:
    @strawberry.type
    class Mutation:
        @strawberry.mutation(extensions=[UserErrors()])
        async def paint(self) -> Paint:
            return Paint(colour=Colour.RED)

    with pytest.raises(TypeError, match="no user_errors field"):
        strawberry.Schema(query=Query, mutation=Mutation)


@payload("A paint after a change.")
class PaintPayload:
    paint: Paint | None = strawberry.field(default=None, description="The paint.")


@payload("Paints after a change.")
class PaintsPayload:
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="NOT_FOUND only."
    )
    paints: list[Paint] = strawberry.field(default_factory=list, description="The paints.")


async def test_a_declared_payload_ends_with_user_errors_and_a_declared_mutation_fills_them() -> (
    None
):
    @strawberry.type
    class Mutation:
        @mutation("Repaint.")
        async def repaint(self, input: PaintInput) -> PaintPayload:
            if input.colour is Colour.RED:
                raise NotFound("no such paint")
            return PaintPayload(paint=Paint(colour=input.colour))

        @mutation("Repaint all.")
        async def repaint_all(self) -> PaintsPayload:
            raise NotFound("no paints")

    schema = strawberry.Schema(query=Query, mutation=Mutation)
    fields = {
        name: [(f.name, f.description) for f in schema.get_type_by_name(name).fields]  # type: ignore[union-attr]
        for name in ("PaintPayload", "PaintsPayload")
    }
    assert fields == {
        "PaintPayload": [("paint", "The paint."), ("user_errors", USER_ERRORS)],
        "PaintsPayload": [("user_errors", "NOT_FOUND only."), ("paints", "The paints.")],
    }
    assert schema.get_type_by_name("PaintPayload").description == "A paint after a change."  # type: ignore[union-attr]

    red = await _run(
        schema,
        "mutation { repaint(input: {colour: RED}) { paint { colour } userErrors { code } } }",
    )
    assert red == {"repaint": {"paint": None, "userErrors": [{"code": "NOT_FOUND"}]}}
    blue = await _run(
        schema,
        "mutation { repaint(input: {colour: DARK_BLUE}) { paint { colour } userErrors { code } } }",
    )
    assert blue == {"repaint": {"paint": {"colour": "DARK_BLUE"}, "userErrors": []}}
    every = await _run(schema, "mutation { repaintAll { userErrors { code } } }")
    assert every == {"repaintAll": {"userErrors": [{"code": "NOT_FOUND"}]}}
