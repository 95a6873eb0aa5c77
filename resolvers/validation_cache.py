"""Parsed documents and their validation results, for the documents sent again and again.

Validating ``checks { failingItems … }`` costs about 6 ms, a tenth of answering it. This is
Strawberry's own ``ValidationCache`` (results kept per schema, document and rules, with
Strawberry's own rules), with two differences: a document another extension already refused
(``OperationLimiter``) is neither validated nor cached, where Strawberry's would validate it
and overwrite that refusal; and every request gets its own list of the cached errors.

Parsing a document of a few thousand tokens costs about 3 ms, most of what refusing an
oversized one costs: ``CachedParse`` keeps the parsed documents of the last
``CACHED_DOCUMENTS`` texts (with the token limit they were parsed under), so a document sent
again — a console's queries, or an attacker repeating one refused document — is parsed once.
A document that does not parse is left to Strawberry, which reports the syntax error as it
always has (Strawberry's ``ParserCache`` raises it from its hook, where it loses its code).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from functools import lru_cache

from graphql import GraphQLError, parse
from strawberry.extensions import SchemaExtension, ValidationCache

CACHED_DOCUMENTS = 256

_parse = lru_cache(maxsize=CACHED_DOCUMENTS)(parse)


class CachedParse(SchemaExtension):
    """Parse each distinct document text once (per token limit) in the process."""

    def on_parse(self) -> Iterator[None]:
        """The cached document, when the text parses; else Strawberry parses and reports."""
        context = self.execution_context
        if context.query and context.graphql_document is None:
            with contextlib.suppress(GraphQLError):
                context.graphql_document = _parse(context.query, **context.parse_options)
        yield


class CachedValidation(ValidationCache):
    """Validate each distinct document once per schema and set of rules."""

    def __init__(self) -> None:
        super().__init__(maxsize=CACHED_DOCUMENTS)

    def on_validate(self) -> Iterator[None]:
        """Set the (cached) validation errors unless another extension already refused."""
        context = self.execution_context
        if context.pre_execution_errors is not None or context.graphql_document is None:
            yield
            return
        steps = super().on_validate()
        next(steps)  # Strawberry's step: the cached errors, or the document validated now
        context.pre_execution_errors = list(context.pre_execution_errors or ())
        yield
        next(steps, None)
