"""Validation results of the documents a console sends again and again, cached.

Validating ``checks { failingItems … }`` costs about 6 ms, a tenth of answering it. This is
Strawberry's own ``ValidationCache`` (results kept per schema, document and rules, with
Strawberry's own rules), with two differences: a document another extension already refused
(``OperationLimiter``) is neither validated nor cached, where Strawberry's would validate it
and overwrite that refusal; and every request gets its own list of the cached errors.
"""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import ValidationCache

CACHED_DOCUMENTS = 256


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
