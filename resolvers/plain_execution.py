"""Completing plain objects without graphql-core's per-field machinery.

graphql-core executes every field of every object the same way: resolve info, resolver call,
awaitable check, error wrapping, completion. For a page of 500 failing items (edge, cursor,
node and four leaves each) that is thousands of field executions and several times the cost
of serialising the same data as JSON. Most of those fields are plain attributes of a
dataclass: Strawberry marks them ``is_basic_field`` and resolves them with ``getattr``.

When every field selected on an object is such an attribute (no resolver, no arguments) and
its type is a leaf, a list of leaves, or again such an object, ``PlainExecutionContext``
completes the object directly: ``getattr`` and the type's own output coercion, in the order
graphql-core would use. Anything else falls back to the normal path for that object: a
selection with a resolver, ``@defer``, a null where the schema says non-null, a value the
type refuses. Because plain attributes have no side effects, a fallback simply runs the
normal path from the start of the object, which reports errors exactly as before.
"""

from __future__ import annotations

import contextlib
from typing import Any

from graphql import (
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    Undefined,
    is_leaf_type,
)

from resolvers.strawberry_adapter import ExecutionContextBase, plain_attribute


class _NotPlain(Exception):
    """This object must go the normal way (raised inside the fast path only)."""


# A completion plan: per response key, how to produce its value from the source object.
# (key, attribute, kind, type, non_null, sub) where kind is "leaf", "leaves", "object",
# "objects" or "typename"; sub is the nested plan of an object or list of objects.
_Plan = list[tuple[str, str, str, Any, bool, Any]]


class PlainExecutionContext(ExecutionContextBase):
    """Strawberry's execution context with a fast path for plain objects."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plans: dict[tuple[str, int], tuple[Any, _Plan | None]] = {}

    def collect_and_execute_subfields(
        self,
        return_type: GraphQLObjectType,
        field_details_list: Any,
        path: Any,
        result: Any,
        position_context: Any,
    ) -> Any:
        """Complete ``result`` directly when its selection is plain, else as graphql-core."""
        middleware = self.middleware_manager
        if middleware is None or not middleware.middlewares:  # no extension wraps resolvers
            plan = self._plan(return_type, field_details_list)
            if plan is not None:
                with contextlib.suppress(Exception):  # _NotPlain or a refused value
                    return _complete(plan, result)
        return super().collect_and_execute_subfields(
            return_type, field_details_list, path, result, position_context
        )

    def _plan(self, object_type: GraphQLObjectType, field_details_list: Any) -> _Plan | None:
        key = (object_type.name, id(field_details_list))
        cached = self._plans.get(key)
        if cached is None:
            # Keep the list alive with its plan so that its id is not reused meanwhile.
            cached = (field_details_list, self._build(object_type, field_details_list))
            self._plans[key] = cached
        return cached[1]

    def _build(self, object_type: GraphQLObjectType, field_details_list: Any) -> _Plan | None:
        grouped, defer_usages, _ = self.collect_subfields(object_type, field_details_list)
        if defer_usages:
            return None
        plan: _Plan = []
        for response_key, details in grouped.items():
            node = details[0].node
            name = node.name.value
            if name == "__typename":
                plan.append((response_key, "", "typename", object_type.name, True, None))
                continue
            field = object_type.fields.get(name)
            attribute = plain_attribute(field) if field is not None else None
            if field is None or attribute is None or node.arguments:
                return None
            entry = self._entry(response_key, attribute, field.type, details)
            if entry is None:
                return None
            plan.append(entry)
        return plan

    def _entry(
        self, key: str, attribute: str, field_type: GraphQLOutputType, details: Any
    ) -> tuple[str, str, str, Any, bool, Any] | None:
        non_null = isinstance(field_type, GraphQLNonNull)
        inner = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
        if is_leaf_type(inner):
            return (key, attribute, "leaf", inner, non_null, None)
        if isinstance(inner, GraphQLObjectType) and not inner.is_type_of:
            sub = self._plan(inner, details)
            return None if sub is None else (key, attribute, "object", inner, non_null, sub)
        if isinstance(inner, GraphQLList):
            item = inner.of_type
            if not isinstance(item, GraphQLNonNull):
                return None  # nullable items: rare here, leave them to graphql-core
            item = item.of_type
            if is_leaf_type(item):
                return (key, attribute, "leaves", item, non_null, None)
            if isinstance(item, GraphQLObjectType) and not item.is_type_of:
                sub = self._plan(item, details)
                if sub is not None:
                    return (key, attribute, "objects", item, non_null, sub)
        return None


def _leaf(leaf_type: GraphQLLeafType, value: Any) -> Any:
    coerced = leaf_type.coerce_output_value(value)
    if coerced is None or coerced is Undefined:
        raise _NotPlain
    return coerced


def _complete(plan: _Plan, source: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, attribute, kind, of_type, non_null, sub in plan:
        if kind == "typename":
            out[key] = of_type
            continue
        value = getattr(source, attribute)
        if value is None:
            if non_null:
                raise _NotPlain  # the normal path reports the error
            out[key] = None
        elif kind == "leaf":
            out[key] = _leaf(of_type, value)
        elif kind == "leaves":
            out[key] = [_leaf(of_type, v) for v in _items(value)]
        elif kind == "object":
            out[key] = _object(sub, value)
        else:
            out[key] = [_object(sub, v) for v in _items(value)]
    return out


def _items(value: Any) -> list[Any] | tuple[Any, ...]:
    if not isinstance(value, list | tuple):
        raise _NotPlain  # another iterable (read once) or not a list: the normal path
    return value


def _object(plan: _Plan, value: Any) -> dict[str, Any]:
    if value is None:
        raise _NotPlain
    return _complete(plan, value)
