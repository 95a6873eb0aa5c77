"""One mapper from domain objects to the Strawberry types that mirror them field by field.

Most output types copy a domain object's same-named attributes; ``mapped`` fills such a type
from the object and takes the fields that differ (renamed, computed, nested types) by name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from enum import Enum
from typing import Any, TypeVar

import strawberry
from strawberry.types.base import StrawberryList, StrawberryOptional
from strawberry.types.field import StrawberryField

T = TypeVar("T")


class _Copy(Enum):
    """How one field takes its domain attribute's value."""

    AS_IS = "as is"
    LIST = "list"  # a sequence (often a tuple) becomes the list GraphQL returns
    ID = "id"
    OPTIONAL_ID = "optional id"  # an empty or missing id is null


def _copy_of(field: dataclasses.Field[Any]) -> _Copy:
    """How ``field`` (of a Strawberry type) copies its value; private fields as they are."""
    if not isinstance(field, StrawberryField):
        return _Copy.AS_IS
    kind = field.type
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
        plan = _PLANS[cls] = tuple((f.name, _copy_of(f)) for f in dataclasses.fields(cls) if f.init)
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
    """An instance of the Strawberry type ``cls``: each field given in ``values`` takes that
    value, every other one ``source``'s same-named attribute (a sequence becomes a list, an
    id a ``strawberry.ID``, an empty optional id null)."""
    build: Callable[..., T] = cls
    copied = {
        name: _converted(getattr(source, name), copy)
        for name, copy in _plan(cls)
        if name not in values
    }
    return build(**copied, **values)
