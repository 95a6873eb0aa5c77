"""Operation limits computed in one pass over the document: depth, aliases and cost.

Strawberry's ``QueryDepthLimiter`` and ``MaxAliasesLimiter`` expand every fragment spread
on every path, so a document whose fragments each spread the next one twice costs 2^n
steps to check (an 800-byte query froze the server for minutes). Here every fragment's
figures are computed once and reused wherever it is spread (memoised), so checking is
linear in the size of the document while the figures still describe the *expanded*
operation: twenty fragments doubling each other count as 2^20 fields.

The check runs before graphql-core's own validation, so a refused document is never
validated or executed. Figures:

- depth: nested fields that have a selection set (``{ me { role } }`` is 1);
- aliases: aliased fields in the expanded operation;
- cost: what the answer weighs (docs/api.md, "What an operation costs"). A field costs 1,
  or its weight (``FIELD_WEIGHTS``: a sealed evidence record, a whole-chain verification);
  its selection is added to it; and a list multiplies both by the number of items it may
  hold: a connection's ``edges`` by the connection's ``first`` (its default when absent,
  at most the page maximum), any other list by ``LIST_SIZES`` (``DEFAULT_LIST_SIZE`` when
  not listed). Introspection fields are free.

An operation over ``max_cost`` is refused naming both figures (``QUERY_TOO_COMPLEX``, with
``cost`` and ``maxCost`` in the extensions). Within it, the cost is charged to the caller's
budget per minute (``Context.cost_meter``, given by the transport); an exhausted budget is
``RATE_LIMITED`` with ``retryAfter``, before anything is executed either. Finally, a query
or mutation costing ``HEAVY_COST`` or more waits for one of ``HEAVY_AT_ONCE`` places
(``HeavyOperations``, one per schema) before it runs: however many callers ask for large
answers at once, the process builds only that many, and cheap operations never wait.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    get_operation_ast,
)
from strawberry.extensions import SchemaExtension

from resolvers.strawberry_adapter import core_schema
from services.paging import DEFAULT_FIRST, MAX_FIRST

# Figures saturate here: a document may describe 2^1000 fields, Python need not add them.
_CAP = 10**15

#: What one value of a field costs instead of 1: fields that carry or compute much more
#: than a value. Keyed ``Type.field``; a test checks every key names a field of the schema.
FIELD_WEIGHTS: Mapping[str, int] = MappingProxyType(
    {
        # A sealed record (result, population references, snapshot): ~1.6 KB and more for
        # records of format 1, whose lists are inline.
        "Evidence.record": 50,
        "Evidence.canonicalJson": 50,
        # Reads and re-hashes the organization's whole chain and every chunk it refers to.
        "Query.verifyEvidenceChain": 1000,
        # Builds the plan from the current snapshot, the failing items and the last review.
        "Query.remediationPlan": 200,
    }
)

#: How many items a list that is not a connection is counted for (``Type.field``).
LIST_SIZES: Mapping[str, int] = MappingProxyType(
    {
        "CheckResult.exceptedItems": 50,
        "ExecuteRemediationPayload.actions": 50,
        "PeoplePayload.people": 50,
        "Query.remediationPlan": 50,
    }
)
DEFAULT_LIST_SIZE = 10


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
    """Walks one document; fragment figures are computed once (``_memo``).

    ``schema`` gives the types (which fields are lists, which take ``first``); without it
    only an explicit ``first`` multiplies the lists of its field's selection.
    """

    def __init__(
        self,
        document: DocumentNode,
        schema: GraphQLSchema | None,
        variables: Mapping[str, Any],
    ) -> None:
        self._fragments: dict[str, FragmentDefinitionNode] = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self._schema = schema
        self._variables = variables
        self._defaults: dict[str, Any] = {}
        self._memo: dict[tuple[str, int | None], Figures] = {}
        self._visiting: set[str] = set()

    def operation(self, op: OperationDefinitionNode) -> Figures:
        """The figures of one operation (its variables' defaults apply to it)."""
        self._defaults = {
            d.variable.name.value: d.default_value.value
            for d in op.variable_definitions or ()
            if isinstance(d.default_value, IntValueNode)
        }
        self._memo.clear()
        root = self._schema.get_root_type(op.operation) if self._schema else None
        return self.selection_set(op.selection_set, root, None)

    def selection_set(
        self, node: SelectionSetNode | None, parent: Any, page: int | None
    ) -> Figures:
        total = _ZERO
        if node is None:
            return total
        for sel in node.selections:
            if isinstance(sel, FieldNode):
                total = total.plus(self._field(sel, parent, page))
            elif isinstance(sel, InlineFragmentNode):
                inner = self._type(sel.type_condition.name.value) if sel.type_condition else parent
                total = total.plus(self.selection_set(sel.selection_set, inner, page))
            elif isinstance(sel, FragmentSpreadNode):
                total = total.plus(self._fragment(sel.name.value, page))
        return total

    def _field(self, node: FieldNode, parent: Any, page: int | None) -> Figures:
        alias = 1 if node.alias is not None else 0
        name = node.name.value
        if name.startswith("__"):  # introspection: free (and off in production)
            return Figures(aliases=alias)
        definition = parent.fields.get(name) if _has_fields(parent) else None
        key = f"{parent.name}.{name}" if definition is not None else ""
        own = FIELD_WEIGHTS.get(key, 1)
        items = 1
        if definition is not None and _is_list(definition.type):
            items = page if page is not None else LIST_SIZES.get(key, DEFAULT_LIST_SIZE)
        elif definition is None and page is not None and name == "edges":
            items = page  # no schema: a connection's edges are what its ``first`` pages
        if node.selection_set is None:
            return Figures(aliases=alias, cost=min(own * items, _CAP))
        inner_type = get_named_type(definition.type) if definition is not None else None
        inner = self.selection_set(node.selection_set, inner_type, self._page(node, definition))
        return Figures(
            depth=inner.depth + 1,
            aliases=min(inner.aliases + alias, _CAP),
            cost=min(items * (own + inner.cost), _CAP),
        )

    def _page(self, node: FieldNode, definition: Any) -> int | None:
        """The page size a field's ``first`` asks for: its value, else the default."""
        argument = next((a for a in node.arguments or () if a.name.value == "first"), None)
        if argument is None:
            takes_first = definition is not None and "first" in definition.args
            return DEFAULT_FIRST if takes_first else None
        value: Any = None
        if isinstance(argument.value, IntValueNode):
            value = argument.value.value
        elif isinstance(argument.value, VariableNode):
            name = argument.value.name.value
            value = self._variables.get(name, self._defaults.get(name))
        try:
            return max(1, min(int(value), MAX_FIRST)) if value is not None else DEFAULT_FIRST
        except (TypeError, ValueError):  # not a number: validation or the resolver says so
            return MAX_FIRST

    def _type(self, name: str) -> Any:
        return self._schema.get_type(name) if self._schema else None

    def _fragment(self, name: str, page: int | None) -> Figures:
        key = (name, page)
        if key in self._memo:
            return self._memo[key]
        fragment = self._fragments.get(name)
        if fragment is None or name in self._visiting:
            return _ZERO  # unknown fragments and cycles are graphql-core's validation errors
        self._visiting.add(name)
        try:
            parent = self._type(fragment.type_condition.name.value)
            figures = self.selection_set(fragment.selection_set, parent, page)
        finally:
            self._visiting.discard(name)
        self._memo[key] = figures
        return figures


def _has_fields(type_: Any) -> bool:
    return isinstance(type_, GraphQLObjectType | GraphQLInterfaceType)


def _is_list(type_: Any) -> bool:
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)


@dataclass(frozen=True, slots=True)
class Limits:
    """The most an operation may ask for."""

    max_depth: int = 12
    max_aliases: int = 30
    max_cost: int = 100_000


#: Queries and mutations that cost this much or more take turns (``HeavyOperations``).
HEAVY_COST = 25_000
HEAVY_AT_ONCE = 2


class HeavyOperations:
    """At most ``at_once`` heavy operations (cost ``threshold`` or more) run at once; the
    others wait, within their time budget. Shared by every operation of one schema."""

    def __init__(self, threshold: int = HEAVY_COST, at_once: int = HEAVY_AT_ONCE) -> None:
        self.threshold = threshold
        self._places = asyncio.Semaphore(at_once)

    async def enter(self) -> None:
        """Wait for a place."""
        await self._places.acquire()

    def leave(self) -> None:
        """Give the place back."""
        self._places.release()


@dataclass(frozen=True, slots=True)
class Measured:
    """What measuring a document found: its cost and the limits it exceeds."""

    cost: int
    errors: list[GraphQLError] = field(default_factory=list)


def measure(
    document: DocumentNode,
    limits: Limits,
    *,
    schema: GraphQLSchema | None = None,
    variables: Mapping[str, Any] | None = None,
) -> Measured:
    """The cost of ``document`` (the most of its operations) and the limits it exceeds."""
    walk = _Measure(document, schema, variables or {})
    errors: list[GraphQLError] = []
    cost = 0
    try:
        for op in document.definitions:
            if isinstance(op, OperationDefinitionNode):
                figures = walk.operation(op)
                cost = max(cost, figures.cost)
                errors.extend(_check(op, figures, limits))
    except RecursionError:
        errors.append(_error("the operation is nested too deeply to be measured"))
    return Measured(cost, errors)


def limit_errors(
    document: DocumentNode,
    limits: Limits,
    *,
    schema: GraphQLSchema | None = None,
    variables: Mapping[str, Any] | None = None,
) -> list[GraphQLError]:
    """The limits every operation of ``document`` exceeds (empty when within them)."""
    return measure(document, limits, schema=schema, variables=variables).errors


def _check(op: OperationDefinitionNode, fig: Figures, limits: Limits) -> Iterator[GraphQLError]:
    name = op.name.value if op.name else "anonymous"
    if fig.depth > limits.max_depth:
        yield _error(f"'{name}' exceeds maximum operation depth of {limits.max_depth}")
    if fig.aliases > limits.max_aliases:
        yield _error(f"{fig.aliases} aliases found. Allowed: {limits.max_aliases}")
    if fig.cost > limits.max_cost:
        yield _error(
            f"'{name}' costs {fig.cost} (lists count the items they may return, heavy fields "
            f"their weight; docs/api.md), over the budget of {limits.max_cost} per operation: "
            "ask for smaller pages or fewer fields",
            cost=fig.cost,
            maxCost=limits.max_cost,
        )


def _error(message: str, **extensions: Any) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "QUERY_TOO_COMPLEX", **extensions})


class CostMeter(Protocol):
    """The caller's budget of cost per minute (the transport puts one in the context)."""

    async def charge(self, cost: int) -> int:
        """Take ``cost`` from the budget: 0 when allowed, else whole seconds to wait."""
        ...


def budget_exhausted(retry_after: int) -> GraphQLError:
    """The refusal of an operation whose cost the caller's budget cannot pay now."""
    return GraphQLError(
        f"query cost budget exceeded for this API key; retry in {retry_after} s",
        extensions={"code": "RATE_LIMITED", "retryAfter": retry_after},
    )


class OperationLimiter(SchemaExtension):
    """Refuses operations over the limits before graphql-core validates them, charges the
    cost of the others to the caller's budget (``Context.cost_meter``) and lets heavy ones
    run only in turn (``HeavyOperations``)."""

    def __init__(self, limits: Limits, heavy: HeavyOperations | None = None) -> None:
        self.limits = limits
        self.heavy = heavy
        self.holding = False

    async def on_operation(self) -> AsyncIterator[None]:
        """Give back the heavy operation's place when it ends, however it ends."""
        try:
            yield
        finally:
            if self.holding and self.heavy is not None:
                self.holding = False
                self.heavy.leave()

    async def on_validate(self) -> AsyncIterator[None]:
        """Measure the parsed document; over a limit, validation and execution are skipped."""
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.pre_execution_errors is None:
            measured = measure(
                document,
                self.limits,
                schema=core_schema(context.schema),
                variables=context.variables or {},
            )
            if measured.errors:
                context.pre_execution_errors = measured.errors
            else:
                meter: CostMeter | None = getattr(context.context, "cost_meter", None)
                wait = await meter.charge(measured.cost) if meter is not None else 0
                if wait:
                    context.pre_execution_errors = [budget_exhausted(wait)]
                elif self._takes_turns(measured.cost):
                    assert self.heavy is not None
                    await self.heavy.enter()
                    self.holding = True
        yield

    def _takes_turns(self, cost: int) -> bool:
        """A heavy query or mutation (a subscription runs for hours: it never waits)."""
        if self.heavy is None or cost < self.heavy.threshold:
            return False
        context = self.execution_context
        document = context.graphql_document
        operation = get_operation_ast(document, context.operation_name) if document else None
        return operation is not None and operation.operation is not OperationType.SUBSCRIPTION


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
