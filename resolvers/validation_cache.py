"""Validation results of the documents a console sends again and again, cached (issue 15).

Validating ``checks { failingItems … }`` costs about 6 ms, a tenth of answering it. Strawberry's
own ``ValidationCache`` would overwrite the errors that ``OperationLimiter`` set before it
(and so let an over-limit document through); this one validates only a document nobody has
refused yet, with Strawberry's own rules, and hands every request its own list of errors.
The key is the document's text (parsing is deterministic), the schema and the rules.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from graphql import DocumentNode, GraphQLError, GraphQLSchema
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document


class _Carried:
    """The parsed document, carried through the cache without being part of its key."""

    __slots__ = ("document",)

    def __init__(self, document: DocumentNode) -> None:
        self.document = document

    def __hash__(self) -> int:
        return 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Carried)


@lru_cache(maxsize=256)
def _validated(
    schema: GraphQLSchema, query: str, rules: tuple[Any, ...], carried: _Carried
) -> tuple[GraphQLError, ...]:
    return tuple(validate_document(schema, carried.document, rules))


class CachedValidation(SchemaExtension):
    """Validate each distinct document text once per schema and set of rules."""

    def on_validate(self) -> Iterator[None]:
        """Set the (cached) validation errors unless another extension already refused."""
        context = self.execution_context
        document, query = context.graphql_document, context.query
        if context.pre_execution_errors is None and document is not None and query:
            rules = tuple(context.validation_rules)
            errors = _validated(context.schema._schema, query, rules, _Carried(document))
            context.pre_execution_errors = list(errors)
        yield
