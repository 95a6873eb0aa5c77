"""Operation limits computed in one pass over the document: depth, aliases and cost.

Strawberry's ``QueryDepthLimiter`` and ``MaxAliasesLimiter`` expand every fragment spread
on every path, so a document whose fragments each spread the next one twice costs 2^n
steps to check (an 800-byte query froze the server for minutes). Here every fragment's
figures are computed once and reused wherever it is spread (memoised), so checking is
linear in the size of the document while the figures still describe the *expanded*
operation: twenty fragments doubling each other count as 2^20 fields.

The check runs before graphql-core's own validation, so a refused document is never
validated or executed. Figures:

- depth: nested fields that have a selection set (``{ me { role } }`` is 1), as before;
- aliases: aliased fields in the expanded operation;
- cost: fields in the expanded operation (introspection fields are free).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_operation_ast,
)
from strawberry.extensions import SchemaExtension

# Figures saturate here: a document may describe 2^1000 fields, Python need not add them.
_CAP = 10**15


@dataclass(frozen=True, slots=True)
class Figures:
    """Depth, aliases and cost of a selection set once every fragment is expanded."""

    depth: int = 0
    aliases: int = 0
    cost: int = 0

    def plus(self, other: Figures) -> Figures:
        """Both selections side by side."""
        return Figures(
            max(self.depth, other.depth),
            min(self.aliases + other.aliases, _CAP),
            min(self.cost + other.cost, _CAP),
        )


_ZERO = Figures()


class _Measure:
    """Walks one document; fragment figures are computed once (``_memo``)."""

    def __init__(self, document: DocumentNode) -> None:
        self._fragments: dict[str, FragmentDefinitionNode] = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self._memo: dict[str, Figures] = {}
        self._visiting: set[str] = set()

    def selection_set(self, node: SelectionSetNode | None) -> Figures:
        total = _ZERO
        if node is None:
            return total
        for sel in node.selections:
            if isinstance(sel, FieldNode):
                total = total.plus(self._field(sel))
            elif isinstance(sel, InlineFragmentNode):
                total = total.plus(self.selection_set(sel.selection_set))
            elif isinstance(sel, FragmentSpreadNode):
                total = total.plus(self._fragment(sel.name.value))
        return total

    def _field(self, node: FieldNode) -> Figures:
        alias = 1 if node.alias is not None else 0
        if node.name.value.startswith("__"):  # introspection: free (and off in production)
            return Figures(aliases=alias)
        if node.selection_set is None:
            return Figures(aliases=alias, cost=1)
        inner = self.selection_set(node.selection_set)
        return Figures(
            depth=inner.depth + 1,
            aliases=min(inner.aliases + alias, _CAP),
            cost=min(inner.cost + 1, _CAP),
        )

    def _fragment(self, name: str) -> Figures:
        if name in self._memo:
            return self._memo[name]
        fragment = self._fragments.get(name)
        if fragment is None or name in self._visiting:
            return _ZERO  # unknown fragments and cycles are graphql-core's validation errors
        self._visiting.add(name)
        try:
            figures = self.selection_set(fragment.selection_set)
        finally:
            self._visiting.discard(name)
        self._memo[name] = figures
        return figures


@dataclass(frozen=True, slots=True)
class Limits:
    """The most an operation may ask for."""

    max_depth: int = 12
    max_aliases: int = 30
    max_cost: int = 10_000


def limit_errors(document: DocumentNode, limits: Limits) -> list[GraphQLError]:
    """The limits every operation of ``document`` exceeds (empty when within them)."""
    measure = _Measure(document)
    errors: list[GraphQLError] = []
    try:
        for op in document.definitions:
            if isinstance(op, OperationDefinitionNode):
                errors.extend(_check(op, measure.selection_set(op.selection_set), limits))
    except RecursionError:
        errors.append(_error("the operation is nested too deeply to be measured"))
    return errors


def _check(op: OperationDefinitionNode, fig: Figures, limits: Limits) -> Iterator[GraphQLError]:
    name = op.name.value if op.name else "anonymous"
    if fig.depth > limits.max_depth:
        yield _error(f"'{name}' exceeds maximum operation depth of {limits.max_depth}")
    if fig.aliases > limits.max_aliases:
        yield _error(f"{fig.aliases} aliases found. Allowed: {limits.max_aliases}")
    if fig.cost > limits.max_cost:
        yield _error(
            f"'{name}' selects {fig.cost} fields once fragments are expanded. "
            f"Allowed: {limits.max_cost}"
        )


def _error(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "QUERY_TOO_COMPLEX"})


class OperationLimiter(SchemaExtension):
    """Refuses operations over the limits before graphql-core validates them."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits

    def on_validate(self) -> Iterator[None]:
        """Measure the parsed document; over a limit, validation and execution are skipped."""
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.pre_execution_errors is None:
            errors = limit_errors(document, self.limits)
            if errors:
                context.pre_execution_errors = errors
        yield


class SubscriptionsOverWebSocketOnly(SchemaExtension):
    """A subscription sent with ``execute`` (HTTP) is refused clearly, not failed inside."""

    def on_validate(self) -> Iterator[None]:
        """Refuse before validation when a subscription arrives outside a stream."""
        context = self.execution_context
        over_http = getattr(context.context, "transport", None) == "http"
        document = context.graphql_document
        operation = (
            get_operation_ast(document, context.operation_name) if document is not None else None
        )
        if (
            context.pre_execution_errors is None
            and over_http
            and operation is not None
            and operation.operation is OperationType.SUBSCRIPTION
        ):
            context.pre_execution_errors = [
                GraphQLError(
                    "subscriptions are served over WebSocket (graphql-transport-ws) only",
                    extensions={"code": "BAD_REQUEST"},
                )
            ]
        yield


_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


class HideSuggestions(SchemaExtension):
    """Production: no "Did you mean 'apiKeys'?" hints that map the schema for a stranger."""

    def on_operation(self) -> Iterator[None]:
        """Strip suggestions from validation and execution errors."""
        yield
        context = self.execution_context
        errors = list(context.pre_execution_errors or ())
        if context.result is not None:
            errors.extend(context.result.errors or ())
        for error in errors:
            error.message = _SUGGESTION.sub("", error.message)
