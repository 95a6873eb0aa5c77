"""Identity decisions: ``linkAccount``, ``markAccountNotStaff``, ``clearAccountIdentity``."""

from __future__ import annotations

from typing import Any

import strawberry

from resolvers.context import Context, principal_of
from resolvers.errors import UserError, user_errors
from resolvers.snapshot_types import Account, NotStaffKind
from services.errors import DomainError
from services.identity import models


@strawberry.input
class LinkAccountInput:
    """Link an account to the person it belongs to."""

    account_id: strawberry.ID
    person_id: strawberry.ID


@strawberry.input
class MarkAccountNotStaffInput:
    """Classify an account as not staff; the reason is required."""

    account_id: strawberry.ID
    kind: NotStaffKind
    reason: str


@strawberry.type
class AccountPayload:
    """An account after its identity changed."""

    account: Account | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class IdentityMutation:
    """Manual identity decisions (ADMIN); automatic resolution never overwrites them."""

    @strawberry.mutation(description="Link an account to a person (STAFF, manual).")
    async def link_account(
        self, info: strawberry.Info[Context, Any], input: LinkAccountInput
    ) -> AccountPayload:
        try:
            view = await info.context.services.identities.link(
                principal_of(info), str(input.account_id), str(input.person_id)
            )
        except DomainError as exc:
            return AccountPayload(user_errors=user_errors(exc))
        return AccountPayload(account=Account.from_view(view))

    @strawberry.mutation(description="Mark an account NOT_STAFF with a kind and a reason.")
    async def mark_account_not_staff(
        self, info: strawberry.Info[Context, Any], input: MarkAccountNotStaffInput
    ) -> AccountPayload:
        try:
            view = await info.context.services.identities.mark_not_staff(
                principal_of(info),
                str(input.account_id),
                models.NotStaffKind(input.kind.value),
                input.reason,
            )
        except DomainError as exc:
            return AccountPayload(user_errors=user_errors(exc))
        return AccountPayload(account=Account.from_view(view))

    @strawberry.mutation(description="Remove a decision; automatic resolution applies again.")
    async def clear_account_identity(
        self, info: strawberry.Info[Context, Any], account_id: strawberry.ID
    ) -> AccountPayload:
        try:
            view = await info.context.services.identities.clear(principal_of(info), str(account_id))
        except DomainError as exc:
            return AccountPayload(user_errors=user_errors(exc))
        return AccountPayload(account=Account.from_view(view))
