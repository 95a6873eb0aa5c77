"""Evidence queries: a check's records and the verification of the organization's chain."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from resolvers.context import Context, principal_of
from resolvers.evidence_types import Evidence, EvidenceChainStatus, EvidenceConnection
from resolvers.relay import After, First
from services.errors import ValidationFailed


@strawberry.type(description="Reads of evidence (every role).")
class EvidenceQuery:
    @strawberry.field(
        description="A check's evidence records, newest first (every role). An unknown check "
        "is a NOT_FOUND error. For files, `GET /evidence/export` streams JSON or CSV."
    )
    async def evidence(
        self,
        info: strawberry.Info[Context, Any],
        check_id: Annotated[strawberry.ID, strawberry.argument(description="The check id.")],
        first: First = None,
        after: After = None,
    ) -> EvidenceConnection:
        page = await info.context.services.evidence.page(
            principal_of(info), str(check_id), first, after
        )
        return EvidenceConnection.of(page, after)

    @strawberry.field(
        description="One evidence record (e.g. a result's `evidenceId`), or null (every role)."
    )
    async def evidence_record(
        self,
        info: strawberry.Info[Context, Any],
        id: Annotated[strawberry.ID, strawberry.argument(description="The record id.")],
    ) -> Evidence | None:
        record = await info.context.services.evidence.get(principal_of(info), str(id))
        return Evidence.from_domain(record) if record else None

    @strawberry.field(
        description="Verify the organization's whole evidence chain: hashes, HMACs, links "
        "and sequence; reports the first broken link (every role)."
    )
    async def verify_evidence_chain(
        self,
        info: strawberry.Info[Context, Any],
        checkpoint: Annotated[
            JSON | None,
            strawberry.argument(
                description="A signed checkpoint kept outside Vigil (`vigil evidence "
                "checkpoint`): the chain must still reach it and hold the same record there."
            ),
        ] = None,
    ) -> EvidenceChainStatus:
        point = checkpoint if isinstance(checkpoint, dict) else None
        if checkpoint is not None and point is None:
            raise ValidationFailed("not a Vigil evidence checkpoint", field=["checkpoint"])
        status = await info.context.services.evidence.verify(principal_of(info), point)
        return EvidenceChainStatus.from_domain(status)
