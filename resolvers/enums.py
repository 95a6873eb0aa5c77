"""GraphQL enums are the domain enums, wrapped: no hand copies, no conversions.

``graphql_enum(PolicyStatus, name=..., description=..., values={...})`` makes the domain
enum itself a Strawberry enum (GraphQL value names are its member names), so resolvers
pass domain values through and inputs arrive as domain members. ``services/`` stays free
of Strawberry: the wrapping happens here, in the resolver layer, when the module that
describes the enum is imported.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import TypeVar

import strawberry

from resolvers.strawberry_adapter import describe_enum_values, is_strawberry_enum

E = TypeVar("E", bound=enum.Enum)


def graphql_enum(cls: type[E], *, name: str, description: str, values: Mapping[E, str]) -> type[E]:
    """Wrap the domain enum ``cls`` as the GraphQL enum ``name``, describing every value.

    ``values`` must describe every member exactly once (the schema describes every value);
    an enum can be wrapped only once, under one GraphQL name.
    """
    if is_strawberry_enum(cls):
        raise TypeError(f"{cls.__name__} is already a GraphQL enum")
    members = set(cls)
    if set(values) != members:
        missing = sorted(m.name for m in members - set(values))
        extra = sorted(str(v) for v in set(values) - members)
        raise TypeError(f"{name}: values to describe: missing {missing}, unknown {extra}")
    strawberry.enum(cls, name=name, description=description)
    describe_enum_values(cls, values)
    return cls
