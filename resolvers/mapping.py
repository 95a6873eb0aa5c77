"""One mapper between domain objects and the Strawberry types that mirror them field by field.

Most output types copy a domain object's same-named attributes, and most inputs are copied to
a domain dataclass the same way; ``mapped`` fills such a type from the object and takes the
fields that differ (renamed, computed, nested types) by name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from enum import Enum
from typing import Any, TypeVar

import strawberry
from strawberry.types.base import StrawberryList, StrawberryOptional, get_object_definition

T = TypeVar("T")


class _Copy(Enum):
    """How one field takes its domain attribute's value."""

    AS_IS = "as is"
    LIST = "list"  # a sequence (often a tuple) becomes the list GraphQL returns
    ID = "id"
    OPTIONAL_ID = "optional id"  # an empty or missing id is null


def _copy_of(kind: object) -> _Copy:
    """How a field of GraphQL type ``kind`` copies its value (None: a private field or a
    plain dataclass's, copied as it is)."""
    if isinstance(kind, StrawberryList):
        return _Copy.LIST
    if kind is strawberry.ID:
        return _Copy.ID
    if isinstance(kind, StrawberryOptional) and kind.of_type is strawberry.ID:
        return _Copy.OPTIONAL_ID
    return _Copy.AS_IS


_Plan = tuple[tuple[str, _Copy], ...]
_PLANS: dict[type[Any], _Plan] = {}


def _plan(cls: type[Any]) -> _Plan:
    """The fields ``cls`` is constructed with and how each copies its value (worked out once
    per type)."""
    plan = _PLANS.get(cls)
    if plan is None:
        definition = get_object_definition(cls)
        kinds = {f.python_name: f.type for f in definition.fields} if definition else {}
        plan = _PLANS[cls] = tuple(
            (f.name, _copy_of(kinds.get(f.name))) for f in dataclasses.fields(cls) if f.init
        )
    return plan


def _converted(value: Any, copy: _Copy) -> Any:
    """``value`` as a field copying it ``copy`` holds it."""
    if copy is _Copy.LIST:
        return list(value)
    if copy is _Copy.ID:
        return strawberry.ID(value)
    if copy is _Copy.OPTIONAL_ID:
        return strawberry.ID(value) if value else None
    return value


def mapped(cls: type[T], source: object, /, **values: Any) -> T:
    """An instance of ``cls`` (a Strawberry type or a dataclass): each field given in
    ``values`` takes that value, every other one ``source``'s same-named attribute (for a
    Strawberry type, a sequence becomes a list, an id a ``strawberry.ID``, an empty optional
    id null)."""
    build: Callable[..., T] = cls
    copied = {
        name: _converted(getattr(source, name), copy)
        for name, copy in _plan(cls)
        if name not in values
    }
    return build(**copied, **values)
