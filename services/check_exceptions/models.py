"""Check exceptions: a time-boxed acceptance of one failing item of one check (SPEC §6)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

MAX_DURATION = timedelta(days=365)


class ExceptionStatus(enum.StrEnum):
    """Whether an exception currently applies."""

    ACTIVE = "ACTIVE"
    EXPIRED = "EXPIRED"
    REVOKED = "REVOKED"


@dataclass(frozen=True, slots=True)
class CheckException:
    """An accepted failing item: ``(check_id, resource_id)`` until ``expires_at``."""

    id: str
    organization_id: str
    check_id: str
    resource_id: str
    reason: str
    expires_at: datetime
    created_at: datetime
    created_by: str
    revoked_at: datetime | None = None
    revoked_by: str | None = None

    def status(self, now: datetime) -> ExceptionStatus:
        """ACTIVE until revoked or until ``expires_at`` is reached."""
        if self.revoked_at is not None:
            return ExceptionStatus.REVOKED
        return ExceptionStatus.ACTIVE if now < self.expires_at else ExceptionStatus.EXPIRED


@dataclass(frozen=True, slots=True)
class ExceptionFilter:
    """The exceptions of an organization a page or count covers: of one check or of all, and
    only those active at ``active_at`` when it is given."""

    organization_id: str
    check_id: str | None = None
    active_at: datetime | None = None
