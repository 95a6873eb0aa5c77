"""Evidence queries: a check's records and the verification of the organization's chain."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated
from urllib.parse import urlencode

import strawberry
from strawberry.scalars import JSON

from resolvers.arguments import CheckId
from resolvers.context import Info, principal_of
from resolvers.evidence_types import Evidence, EvidenceChainStatus, EvidenceConnection
from resolvers.relay import After, First
from services.errors import ValidationFailed


@strawberry.enum(description="The file format of an evidence export.")
class EvidenceExportFormat(Enum):
    JSON = strawberry.enum_value(
        "json", description="`vigil-evidence/2`: the records and the chunks they refer to."
    )
    CSV = strawberry.enum_value("csv", description="One row per record (list counts, no lists).")


@strawberry.type(description="A download link for a browser.")
class EvidenceExportLink:
    url: str = strawberry.field(
        description="`/evidence/export?token=…`, relative to the API's origin: open it (a "
        "plain link, no header needed) before `expiresAt`; it works once."
    )
    expires_at: datetime = strawberry.field(
        description="When the link stops working (a minute after it was made)."
    )


@strawberry.type(description="Reads of evidence (every role).")
class EvidenceQuery:
    @strawberry.field(
        description="A check's evidence records, newest first (every role). An unknown check "
        "is a NOT_FOUND error. For files, `GET /evidence/export` streams JSON or CSV."
    )
    async def evidence(
        self,
        info: Info,
        check_id: CheckId,
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
        info: Info,
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
        info: Info,
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

    @strawberry.field(
        description="A one-minute, single-use link to `GET /evidence/export` of a check's "
        "evidence, for a browser, which cannot send an `Authorization` header with a plain "
        "link (every role: it is a read; making it writes nothing). It is tied to the "
        "caller's API key. An unknown check is a NOT_FOUND error."
    )
    async def evidence_export_link(
        self,
        info: Info,
        check_id: Annotated[strawberry.ID, strawberry.argument(description="The check.")],
        format: Annotated[
            EvidenceExportFormat, strawberry.argument(description="The file format.")
        ] = EvidenceExportFormat.JSON,
    ) -> EvidenceExportLink:
        link = info.context.services.downloads.create(
            principal_of(info), str(check_id), format.name.lower()
        )
        return EvidenceExportLink(
            url="/evidence/export?" + urlencode({"token": link.token}),
            expires_at=link.expires_at,
        )
