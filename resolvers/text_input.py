"""One rule for the text of every operation: it must be storable.

A lone UTF-16 surrogate (``"\\ud800"`` in JSON) is valid JSON and a valid Python string, but
it has no UTF-8 encoding, so the first encoder it meets (BSON, a log line, an HTTP header)
fails with an unexpected error. A NUL cannot be a key of a BSON document. Rather than every
resolver checking its own arguments, ``RefuseUnencodableText`` looks at everything a client
sends before anything is validated or executed — the variables (every string and object key,
at any depth: String and ID arguments, inside input objects and lists, JSON scalars), the
document's text and the operation name — and refuses an operation that carries such text
with ``BAD_USER_INPUT`` naming where it is. String literals in the document itself never get
that far: graphql-core's parser refuses a surrogate as a syntax error.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from resolvers.errors import BAD_USER_INPUT


def unencodable(text: str) -> bool:
    """Whether ``text`` has no UTF-8 encoding (it holds a lone surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def first_unencodable(value: Any, path: tuple[str, ...] = ()) -> tuple[str, ...] | None:
    """The path of the first string (or object key) in ``value`` that cannot be stored."""
    if isinstance(value, str):
        return path if unencodable(value) else None
    if isinstance(value, Mapping):
        for key, item in value.items():
            where = (*path, str(key))
            if isinstance(key, str) and (unencodable(key) or "\x00" in key):
                return where
            found = first_unencodable(item, where)
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = first_unencodable(item, (*path, str(index)))
            if found is not None:
                return found
    return None


def _printable(path: tuple[str, ...]) -> list[str]:
    """A path safe to send back (a key at fault is itself unencodable)."""
    return [p.encode("utf-8", "backslashreplace").decode("utf-8") for p in path]


class RefuseUnencodableText(SchemaExtension):
    """Refuses an operation whose variables, document or name hold text that cannot be
    encoded, before the other checks run."""

    def on_validate(self) -> Iterator[None]:
        """Look at everything the client sent; refuse with ``BAD_USER_INPUT``."""
        context = self.execution_context
        if context.pre_execution_errors is None:
            error = _problem(context.variables, context.query, context.operation_name)
            if error is not None:
                context.pre_execution_errors = [error]
        yield


def _problem(
    variables: Mapping[str, Any] | None, query: str | None, operation_name: str | None
) -> GraphQLError | None:
    where = first_unencodable(dict(variables or {}))
    if where is not None:
        field = _printable(where)
        return GraphQLError(
            f"variable ${field[0]} holds text that cannot be encoded as UTF-8 (a lone "
            f"surrogate such as \\ud800, or a NUL in an object key) at {'.'.join(field)}",
            extensions={"code": BAD_USER_INPUT, "field": field},
        )
    for what, text in (("document", query), ("operation name", operation_name)):
        if text is not None and unencodable(text):
            return GraphQLError(
                f"the {what} holds text that cannot be encoded as UTF-8 (a lone surrogate)",
                extensions={"code": BAD_USER_INPUT},
            )
    return None
