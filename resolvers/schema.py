"""Schema construction: root types plus the protective extensions of SPEC §7."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import DisableIntrospection, MaxTokensLimiter, SchemaExtension
from strawberry.types import ExecutionContext

from resolvers.alerts import AlertMutation, AlertQuery
from resolvers.api_keys import ApiKeyMutation, ApiKeyQuery, ApiKeySubscription
from resolvers.audit import AuditMutation
from resolvers.check_exceptions import ExceptionMutation, ExceptionQuery
from resolvers.check_summary import CheckSummaryQuery
from resolvers.checks import CheckQuery, CheckSubscription
from resolvers.errors import CodeErrors, MaskUnexpectedErrors
from resolvers.evidence import EvidenceQuery
from resolvers.identity import IdentityMutation
from resolvers.integrations import IntegrationMutation, IntegrationQuery, IntegrationSubscription
from resolvers.limits import (
    HeavyOperations,
    HideSuggestions,
    Limits,
    OperationLimiter,
    SubscriptionsOverWebSocketOnly,
)
from resolvers.members import MemberMutation, MemberQuery
from resolvers.node import NodeQuery
from resolvers.organization import OrganizationMutation, OrganizationQuery
from resolvers.people import PeopleMutation, PeopleQuery, PeopleSubscription
from resolvers.plain_execution import PlainExecutionContext
from resolvers.policies import PolicyMutation, PolicyQuery, PolicySubscription
from resolvers.remediation import RemediationMutation, RemediationQuery, RemediationSubscription
from resolvers.reviews import ReviewMutation, ReviewQuery, ReviewSubscription
from resolvers.sync import SyncMutation, SyncQuery, SyncSubscription
from resolvers.systems import SystemMutation, SystemQuery
from resolvers.text_input import RefuseUnencodableText
from resolvers.validation_cache import CachedParse, CachedValidation

# Each capability contributes its own Query / Mutation / Subscription class; the roots are
# their union, so capabilities never edit one shared root class.


@strawberry.type(
    description="Reads. Every field is scoped to the caller's organization (the API key's or "
    "the signed-in person's); "
    "single objects are null when not found, lists scoped to a missing parent raise NOT_FOUND."
)
class Query(
    OrganizationQuery,
    MemberQuery,
    ApiKeyQuery,
    IntegrationQuery,
    SyncQuery,
    PeopleQuery,
    SystemQuery,
    ReviewQuery,
    CheckQuery,
    CheckSummaryQuery,
    PolicyQuery,
    EvidenceQuery,
    ExceptionQuery,
    NodeQuery,
    RemediationQuery,
    AlertQuery,
):
    pass


@strawberry.type(
    description="Writes. Each returns a payload whose `userErrors` lists expected failures "
    "(validation, not found, forbidden by role); the role each needs is in its description."
)
class Mutation(
    ApiKeyMutation,
    MemberMutation,
    OrganizationMutation,
    IntegrationMutation,
    SyncMutation,
    PeopleMutation,
    IdentityMutation,
    SystemMutation,
    ReviewMutation,
    PolicyMutation,
    ExceptionMutation,
    RemediationMutation,
    AlertMutation,
    AuditMutation,
):
    pass


@strawberry.type(
    description="Live updates over WebSocket (`graphql-transport-ws`, authenticated by an API "
    "key in `connection_init` or by the session cookie); at most 20 subscriptions per "
    "connection."
)
class Subscription(
    ApiKeySubscription,
    IntegrationSubscription,
    SyncSubscription,
    CheckSubscription,
    ReviewSubscription,
    PeopleSubscription,
    PolicySubscription,
    RemediationSubscription,
):
    pass


class VigilSchema(strawberry.Schema):
    """A schema whose errors are logged by ``MaskUnexpectedErrors``, not printed again."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Unexpected errors are logged (redacted) by the masking extension."""


def build_schema(
    *,
    development: bool = False,
    max_depth: int = 12,
    max_aliases: int = 30,
    max_tokens: int = 5000,
    max_cost: int = 100_000,
) -> strawberry.Schema:
    """The Vigil GraphQL schema with depth, alias, cost and token limits, the text rule and
    error masking."""
    limits = Limits(max_depth=max_depth, max_aliases=max_aliases, max_cost=max_cost)
    heavy = HeavyOperations()  # one per schema: every operation it serves takes turns in it
    extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        lambda: MaxTokensLimiter(max_token_count=max_tokens),
        CachedParse,  # a document sent again (a console's, an attacker's) is not parsed again
        RefuseUnencodableText,  # first: nothing else looks at text that cannot be encoded
        lambda: OperationLimiter(limits, heavy),
        SubscriptionsOverWebSocketOnly,
        MaskUnexpectedErrors,
        CodeErrors,
    ]
    if not development:
        extensions += [DisableIntrospection, HideSuggestions]
    # Last: a document the limits refused is not validated.
    extensions += [CachedValidation]
    return VigilSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        execution_context_class=PlainExecutionContext,  # plain objects without per-field cost
    )


def export_sdl() -> str:
    """The schema in SDL, as committed in ``schema.graphql``."""
    return build_schema(development=True).as_str() + "\n"


def _main(argv: Any = None) -> None:
    print(export_sdl(), end="")


if __name__ == "__main__":
    _main()
