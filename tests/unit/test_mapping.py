"""``resolvers.mapping.mapped``: a Strawberry type (or a dataclass) filled from the same-named
attributes of a domain object, with the fields that differ given by name."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import strawberry

from resolvers.mapping import mapped


@dataclass(frozen=True)
class Thing:
    id: str
    name: str
    tags: tuple[str, ...]
    owner_id: str | None
    size: int


@strawberry.type
class ThingType:
    id: strawberry.ID
    name: str
    tags: list[str]
    owner_id: strawberry.ID | None
    label: str
    secret: strawberry.Private[tuple[str, ...]]

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()


@dataclass(frozen=True)
class Draft:
    name: str
    size: int


def test_same_named_attributes_are_copied_and_the_others_given() -> None:
    thing = Thing(id="t1", name="box", tags=("a", "b"), owner_id="u1", size=3)

    made = mapped(ThingType, thing, label="a box", secret=("x",))

    assert (made.id, made.name, made.owner_id, made.label) == ("t1", "box", "u1", "a box")
    assert made.tags == ["a", "b"] and isinstance(made.tags, list)
    assert made.secret == ("x",)  # a private field keeps what it is given


def test_an_empty_optional_id_is_null_and_a_given_value_wins() -> None:
    thing = Thing(id="t1", name="box", tags=(), owner_id="", size=3)

    made = mapped(ThingType, thing, name="renamed", label="", secret=())

    assert made.owner_id is None
    assert made.name == "renamed"
    assert made.tags == []


def test_a_dataclass_is_filled_as_is_and_an_unknown_field_is_refused() -> None:
    thing = Thing(id="t1", name="box", tags=(), owner_id=None, size=3)

    assert mapped(Draft, thing) == Draft(name="box", size=3)
    with pytest.raises(TypeError):
        mapped(Draft, thing, colour="red")
