"""Download links for ``GET /evidence/export``, for browsers.

A link a browser follows cannot carry an ``Authorization`` header. So a caller asks for a
link (``createEvidenceExportLink``) and gets ``/evidence/export?token=<token>``: the token
is 256 random bits, stored only as its sha256, valid for ``LINK_LIFETIME`` (a minute), taken
once (an atomic delete: two concurrent downloads, one file), and tied to the API key that
made it (a key revoked meanwhile makes its links worthless). Nothing long-lived is ever in
a URL.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from services.clock import Clock, utcnow_ms
from services.evidence.models import DownloadGrant
from services.evidence.service import EvidenceService
from services.models import Principal

LINK_LIFETIME = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class DownloadLink:
    """A new link's token (shown once, to its caller) and when it stops working."""

    token: str = field(repr=False)
    expires_at: datetime


class DownloadLinksRepo(Protocol):
    """The ``DownloadLinkRepository`` methods ``DownloadLinks`` calls."""

    async def create(
        self, *, token_hash: str, grant: DownloadGrant, expires_at: datetime
    ) -> None: ...
    async def take(self, *, token_hash: str, now: datetime) -> DownloadGrant | None: ...


KeyCheck = Callable[[Principal], Awaitable[bool]]


class DownloadLinks:
    """Short-lived, single-use links to one check's evidence export."""

    def __init__(
        self,
        evidence: EvidenceService,
        *,
        download_links: DownloadLinksRepo,
        key_valid: KeyCheck,
        clock: Clock = utcnow_ms,
        lifetime: timedelta = LINK_LIFETIME,
    ) -> None:
        self._evidence = evidence
        self._links = download_links
        self._key_valid = key_valid
        self._clock = clock
        self._lifetime = lifetime

    async def create(self, principal: Principal, check_id: str, fmt: str) -> DownloadLink:
        """A link to export ``check_id``'s evidence as ``fmt`` (every role: it is a read)."""
        kind = self._evidence.check_export(check_id, fmt)
        token = secrets.token_urlsafe(32)
        expires_at = self._clock() + self._lifetime
        grant = DownloadGrant(
            organization_id=principal.organization_id,
            role=principal.role,
            api_key_id=principal.api_key_id,
            check_id=check_id,
            format=kind.value,
        )
        await self._links.create(token_hash=_hash(token), grant=grant, expires_at=expires_at)
        return DownloadLink(token=token, expires_at=expires_at)

    async def redeem(self, token: str) -> tuple[Principal, DownloadGrant] | None:
        """What a link grants, once; None when it is unknown, used, expired, or its key has
        been revoked since."""
        grant = await self._links.take(token_hash=_hash(token), now=self._clock())
        if grant is None:
            return None
        principal = Principal(
            organization_id=grant.organization_id, role=grant.role, api_key_id=grant.api_key_id
        )
        if not await self._key_valid(principal):
            return None
        return principal, grant


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
