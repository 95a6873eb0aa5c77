"""``GET /audit/package?from=YYYY-MM-DD&to=YYYY-MM-DD``: the signed audit package, streamed.

Same conventions as ``/evidence/export`` (``api.http_requests``, ``api.http_errors``): the
``Authorization: Bearer`` key (ADMIN or REVIEWER: 403 otherwise), the key's organization,
JSON errors with a 4xx status and never a partial file. The package is written to a
temporary file first (a broken chain or a bad period is an error before the first byte),
then streamed from it in 64 KB blocks and the file removed.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from typing import IO

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from api.container import Container
from api.http_errors import domain_error
from api.http_requests import authenticate
from services.audit.package import parse_period
from services.errors import DomainError, NotFound

BLOCK = 64 * 1024


def audit_routes(container: Container) -> list[Route]:
    """The audit package download route."""

    async def package(request: Request) -> Response:
        principal = await authenticate(container, request)
        packages = container.services.audit
        spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the response's task
        try:
            if packages is None:
                raise NotFound("audit packages are not available in this process")
            packages.authorize(principal)
            period = parse_period(
                request.query_params.get("from", ""), request.query_params.get("to", "")
            )
            manifest = await packages.write(principal, period, spool)
        except DomainError as exc:
            spool.close()
            raise domain_error(exc) from None
        except BaseException:
            spool.close()
            raise
        spool.seek(0)
        name = (
            f"vigil-audit-{principal.organization_id}-{manifest['period']['from']}-"
            f"{manifest['period']['to']}.zip"
        )
        return StreamingResponse(
            _blocks(spool),
            media_type="application/zip",
            headers={
                "Content-Disposition": f'attachment; filename="{name}"',
                "Cache-Control": "no-store",
            },
            background=BackgroundTask(spool.close),
        )

    return [Route("/audit/package", package, methods=["GET"])]


async def _blocks(spool: IO[bytes]) -> AsyncIterator[bytes]:
    while block := await asyncio.to_thread(spool.read, BLOCK):
        yield block
