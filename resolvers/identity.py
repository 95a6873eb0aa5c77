"""Identity decisions: ``linkAccount``, ``markAccountNotStaff``, ``clearAccountIdentity``."""

from __future__ import annotations

from typing import Annotated

import strawberry

from resolvers.arguments import AccountId
from resolvers.context import Info, principal_of
from resolvers.errors import mutation, payload, result_field
from resolvers.snapshot_types import Account
from services.identity.models import NotStaffKind


@strawberry.input(description="Link an account to the person it belongs to.")
class LinkAccountInput:
    account_id: strawberry.ID = strawberry.field(description="The Atlassian account id.")
    person_id: strawberry.ID = strawberry.field(description="The person it belongs to.")


@strawberry.input(description="Classify an account as not staff; the reason is required.")
class MarkAccountNotStaffInput:
    account_id: strawberry.ID = strawberry.field(description="The Atlassian account id.")
    kind: NotStaffKind = strawberry.field(description="What kind of account it is.")
    reason: str = strawberry.field(
        description="Why (shown to auditors); required, at most 500 characters."
    )


@payload("An account after its identity changed.")
class AccountPayload:
    account: Account | None = result_field("The account with its new identity")


@strawberry.type(
    description="Manual identity decisions (ADMIN); automatic resolution never overwrites them."
)
class IdentityMutation:
    @mutation("Link an account to a person (ADMIN): STAFF, decided MANUAL.")
    async def link_account(
        self,
        info: Info,
        input: Annotated[LinkAccountInput, strawberry.argument(description="Account, person.")],
    ) -> AccountPayload:
        view = await info.context.services.identities.link(
            principal_of(info), str(input.account_id), str(input.person_id)
        )
        return AccountPayload(account=Account.from_view(view))

    @mutation("Mark an account NOT_STAFF with a kind and a reason (ADMIN), decided MANUAL.")
    async def mark_account_not_staff(
        self,
        info: Info,
        input: Annotated[
            MarkAccountNotStaffInput, strawberry.argument(description="Account, kind, reason.")
        ],
    ) -> AccountPayload:
        view = await info.context.services.identities.mark_not_staff(
            principal_of(info),
            str(input.account_id),
            input.kind,
            input.reason,
        )
        return AccountPayload(account=Account.from_view(view))

    @mutation("Remove a manual decision (ADMIN); automatic resolution applies again.")
    async def clear_account_identity(
        self,
        info: Info,
        account_id: AccountId,
    ) -> AccountPayload:
        view = await info.context.services.identities.clear(principal_of(info), str(account_id))
        return AccountPayload(account=Account.from_view(view))
