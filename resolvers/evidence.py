"""Evidence queries: a check's records and the verification of the organization's chain."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from resolvers.context import Context, principal_of
from resolvers.evidence_types import Evidence, EvidenceChainStatus, EvidenceConnection
from services.errors import ValidationFailed


@strawberry.type
class EvidenceQuery:
    """Reads of evidence (every role)."""

    @strawberry.field(description="A check's evidence records, newest first.")
    async def evidence(
        self,
        info: strawberry.Info[Context, Any],
        check_id: strawberry.ID,
        first: int | None = None,
        after: str | None = None,
    ) -> EvidenceConnection:
        page = await info.context.services.evidence.page(
            principal_of(info), str(check_id), first, after
        )
        return EvidenceConnection.of(page)

    @strawberry.field(description="One evidence record (e.g. a result's evidenceId).")
    async def evidence_record(
        self, info: strawberry.Info[Context, Any], id: strawberry.ID
    ) -> Evidence | None:
        record = await info.context.services.evidence.get(principal_of(info), str(id))
        return Evidence.from_domain(record) if record else None

    @strawberry.field(
        description="Verify the organization's whole evidence chain: hashes, HMACs, links "
        "and sequence; reports the first broken link."
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
