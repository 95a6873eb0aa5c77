"""Download links for ``GET /evidence/export``, for browsers.

A link a browser follows cannot carry an ``Authorization`` header. So a caller asks for a
link (the ``evidenceExportLink`` query: a read, every role) and gets
``/evidence/export?token=<token>``. The token names the organization, the caller's
credential (API key or session) and role, the check, the format, when it expires
(``LINK_LIFETIME``, a minute) and a random nonce, MACed with a subkey of
``VIGIL_SECRET_KEY`` (``KeyRing.mac``): making one writes nothing. The export route takes it
once: the first use is recorded under the token's hash (an insert that a second use, even a
concurrent one, cannot repeat), and a key revoked (or a session ended, or a role changed)
since makes its links worthless. Nothing long-lived is ever in a URL.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import KW_ONLY, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from services.clock import Clock, utcnow_ms
from services.crypto import KeyRing
from services.evidence.models import DownloadGrant
from services.evidence.service import EvidenceService
from services.models import Principal, Role

LINK_LIFETIME = timedelta(seconds=60)
PURPOSE = "evidence-download"


@dataclass(frozen=True, slots=True)
class DownloadLink:
    """A new link's token (shown once, to its caller) and when it stops working."""

    token: str = field(repr=False)
    expires_at: datetime


class UsedLinksRepo(Protocol):
    """The ``DownloadLinkRepository`` methods ``DownloadLinks`` calls."""

    async def use(self, *, token_hash: str, expires_at: datetime) -> bool: ...


#: The caller a grant was made by, if its credential still holds with the grant's role.
Holder = Callable[[DownloadGrant], Awaitable[Principal | None]]


@dataclass(eq=False, repr=False)
class DownloadLinks:
    """Short-lived, single-use links to one check's evidence export."""

    evidence: EvidenceService
    keys: KeyRing
    _: KW_ONLY
    download_links: UsedLinksRepo
    holder: Holder
    clock: Clock = utcnow_ms
    lifetime: timedelta = LINK_LIFETIME

    def create(self, principal: Principal, check_id: str, fmt: str) -> DownloadLink:
        """A link to export ``check_id``'s evidence as ``fmt`` (every role: it is a read)."""
        kind = self.evidence.check_export(check_id, fmt)
        expires_at = self.clock() + self.lifetime
        payload = {
            "o": principal.organization_id,
            "k": principal.api_key_id,
            "s": principal.session_id,
            "r": principal.role.value,
            "c": check_id,
            "f": kind.value,
            "e": int(expires_at.timestamp() * 1000),
            "n": secrets.token_hex(16),
        }
        data = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
        token = f"{data}.{self.keys.mac(PURPOSE, data.encode())}"
        return DownloadLink(token=token, expires_at=expires_at)

    async def redeem(self, token: str) -> tuple[Principal, DownloadGrant] | None:
        """What a link grants, once; None when it is forged, expired, already used, or its
        credential has been revoked since (or its role changed)."""
        grant, expires_at = self._read(token)
        if grant is None or expires_at is None or expires_at <= self.clock():
            return None
        principal = await self.holder(grant)
        if principal is None:
            return None
        token_hash = hashlib.sha256(token.encode()).hexdigest()
        if not await self.download_links.use(token_hash=token_hash, expires_at=expires_at):
            return None
        return principal, grant

    def _read(self, token: str) -> tuple[DownloadGrant | None, datetime | None]:
        data, _, tag = token.partition(".")
        if not data or not self.keys.verify_mac(PURPOSE, data.encode(), tag):
            return None, None
        try:
            raw = json.loads(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))
            grant = DownloadGrant(
                organization_id=str(raw["o"]),
                role=Role(raw["r"]),
                api_key_id=_optional(raw.get("k")),
                session_id=_optional(raw.get("s")),
                check_id=str(raw["c"]),
                format=str(raw["f"]),
            )
            expires_at = datetime.fromtimestamp(int(raw["e"]) / 1000, UTC)
        except (binascii.Error, ValueError, KeyError, TypeError):  # signed, so never expected
            return None, None
        return grant, expires_at


def _optional(value: object) -> str | None:
    return None if value is None else str(value)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")
