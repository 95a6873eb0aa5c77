"""Answers within ``max_response_bytes``: serialised in pieces, stopped at the limit.

An operation's cost (``resolvers/limits.py``) is an estimate made before it runs; what it
misses (evidence records of format 1 carry their whole population, a check may have
thousands of excepted items) is caught here. The answer is serialised a subtree at a time
and the running size checked after each; past the limit serialising stops and the client
gets one GraphQL error, ``RESPONSE_TOO_LARGE``, instead of the data — never a cut body.
The text is what ``json.dumps(value, separators=(",", ":"))`` gives (ASCII, so its length
is its size in bytes).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError

#: Containers nested deeper than this are serialised whole, between two size checks
#: (``data`` → alias → ``edges`` → edge → ``node``: one record at a time).
_SPLIT_DEPTH = 5
_SEPARATORS = (",", ":")


def encode_within(value: Any, limit: int) -> str | None:
    """The JSON text of ``value``, or None as soon as it is known to be over ``limit``."""
    parts: list[str] = []
    size = 0
    for part in _pieces(value, 0):
        size += len(part)
        if size > limit:
            return None
        parts.append(part)
    return "".join(parts)


def _pieces(value: Any, depth: int) -> Iterator[str]:
    if depth < _SPLIT_DEPTH and isinstance(value, dict) and value:
        yield "{"
        for index, (key, item) in enumerate(value.items()):
            yield ("," if index else "") + json.dumps(str(key)) + ":"
            yield from _pieces(item, depth + 1)
        yield "}"
    elif depth < _SPLIT_DEPTH and isinstance(value, list) and value:
        yield "["
        for index, item in enumerate(value):
            if index:
                yield ","
            yield from _pieces(item, depth + 1)
        yield "]"
    else:
        yield json.dumps(value, separators=_SEPARATORS)


def too_large(limit: int) -> GraphQLError:
    """The error that replaces an answer over ``limit`` bytes."""
    return GraphQLError(
        f"the answer is larger than {limit} bytes, the most the server sends: ask for smaller "
        "pages (`first`) or fewer fields (evidence records: GET /evidence/export streams them)",
        extensions={"code": "RESPONSE_TOO_LARGE", "maxBytes": limit},
    )


def too_large_text(limit: int) -> str:
    """The JSON of a result that is only ``too_large(limit)``."""
    return json.dumps(
        {"data": None, "errors": [too_large(limit).formatted]}, separators=_SEPARATORS
    )
