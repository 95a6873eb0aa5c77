"""One mapper between domain objects and the Strawberry types that mirror them field by field.

Most output types copy a domain object's same-named attributes, and most inputs are copied to
a domain dataclass the same way; ``mapped`` fills such a type from the object and takes the
fields that differ (renamed, computed, nested types) by name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

import strawberry

from resolvers.strawberry_adapter import field_types, is_list_type, optional_of

T = TypeVar("T")


def _optional_id(value: str | None) -> strawberry.ID | None:
    """An optional id: an empty or missing one is null."""
    return strawberry.ID(value) if value else None


def _converter(kind: object) -> Callable[[Any], Any] | None:
    """What a field of GraphQL type ``kind`` makes of its value: a sequence (often a tuple)
    becomes the list GraphQL returns, an id a ``strawberry.ID``; None copies it as it is (any
    other field, a private one, or a plain dataclass's, whose ``kind`` is None)."""
    if is_list_type(kind):
        return list
    if kind is strawberry.ID:
        return strawberry.ID
    if optional_of(kind) is strawberry.ID:
        return _optional_id
    return None


_Plan = tuple[tuple[str, Callable[[Any], Any] | None], ...]
_PLANS: dict[type[Any], _Plan] = {}


def _plan(cls: type[Any]) -> _Plan:
    """The fields ``cls`` is constructed with and the converter of each (worked out once per
    type)."""
    plan = _PLANS.get(cls)
    if plan is None:
        kinds = field_types(cls)
        plan = _PLANS[cls] = tuple(
            (f.name, _converter(kinds.get(f.name))) for f in dataclasses.fields(cls) if f.init
        )
    return plan


def mapped(cls: type[T], source: object, /, **values: Any) -> T:
    """An instance of ``cls`` (a Strawberry type or a dataclass): each field given in
    ``values`` takes that value, every other one ``source``'s same-named attribute (for a
    Strawberry type, a sequence becomes a list, an id a ``strawberry.ID``, an empty optional
    id null)."""
    build: Callable[..., T] = cls
    copied = {
        name: getattr(source, name) if convert is None else convert(getattr(source, name))
        for name, convert in _plan(cls)
        if name not in values
    }
    return build(**copied, **values)
