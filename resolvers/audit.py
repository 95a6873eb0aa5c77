"""The auditor's package: ``requestAuditPackage`` (ADMIN or REVIEWER) validates a period
and answers with the download route that streams the signed zip."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import urlencode

import strawberry

from resolvers.context import Info, principal_of
from resolvers.errors import mutation, payload
from services.audit.package import parse_period
from services.errors import NotFound


@strawberry.input(description="The period of an audit package (UTC days, both included).")
class AuditPackageInput:
    period_from: date = strawberry.field(name="from", description="The first day.")
    period_to: date = strawberry.field(name="to", description="The last day.")


@payload("Where to download an audit package.")
class AuditPackagePayload:
    download_path: str | None = strawberry.field(
        default=None,
        description="GET it with the same `Authorization: Bearer` key (an ADMIN or REVIEWER "
        "key): `/audit/package?from=…&to=…` streams the signed zip. Null on userErrors.",
    )
    public_key: str | None = strawberry.field(
        default=None,
        description="The organization's evidence public key (PEM) the package is signed with; "
        "hand the auditor a copy out of band, not only inside the package.",
    )


@strawberry.type(description="The auditor's package (ADMIN or REVIEWER).")
class AuditMutation:
    @mutation(
        "Ask for the signed audit package of a period (ADMIN or REVIEWER): "
        "evidence records with their signed checkpoints, populations, reviews, remediation, "
        "policies, CSVs, report.html and verify_bundle.py (docs/auditor.md)."
    )
    async def request_audit_package(
        self,
        info: Info,
        input: Annotated[AuditPackageInput, strawberry.argument(description="The period.")],
    ) -> AuditPackagePayload:
        principal = principal_of(info)
        services = info.context.services
        if services.audit is None:
            raise NotFound("audit packages are not available in this process")
        services.audit.authorize(principal)
        period = parse_period(input.period_from.isoformat(), input.period_to.isoformat())
        query = urlencode({"from": period.first.isoformat(), "to": period.last.isoformat()})
        return AuditPackagePayload(
            download_path=f"/audit/package?{query}",
            public_key=await services.evidence.public_key(principal),
        )
