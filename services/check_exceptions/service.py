"""Check exceptions: create (ADMIN), revoke (ADMIN), list, and the engine's exception filter.

An exception accepts one failing item — ``(check_id, resource_id)`` — until it expires or
is revoked; the engine shows the item under ``exceptedItems`` and it does not make the
check fail. Expiry needs no write: the filter only returns exceptions unexpired at the
evaluation's ``now``, so the periodic evaluation turns an expired item back into a failure.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Collection
from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime
from typing import Protocol

from services.api_keys import require_role
from services.callbacks import OnAction, OnChange, ignore_action, ignore_change
from services.check_exceptions.models import MAX_DURATION, CheckException, ExceptionFilter
from services.clock import Clock, utc_ms, utcnow_ms
from services.errors import Conflict, NotFound, ValidationFailed
from services.models import Action, Principal, Role
from services.paging import Slice, decode_cursor, make_slice, page_size

MAX_REASON = 2000
MAX_RESOURCE_ID = 500


def exception_id(at: datetime) -> str:
    """A new exception's id; ids sort by creation time (newest-first paging needs no second
    key)."""
    return f"exc_{int(at.timestamp() * 1000):012x}{secrets.token_hex(6)}"


FailingItems = Callable[[str, str], Awaitable[Collection[str]]]
"""The resource ids currently failing a check of an organization: ``(org, check_id)``."""


#: At most this many exceptions of one check are considered when showing excepted items.
MAX_LISTED = 2000


class ActiveExceptionsRepo(Protocol):
    """The ``CheckExceptionRepository`` method ``ActiveExceptions`` calls."""

    async def active(
        self, *, organization_id: str, now: datetime, check_id: str | None = None
    ) -> list[CheckException]: ...


class ExceptionListRepo(Protocol):
    """The ``CheckExceptionRepository`` method that pages exceptions (``ExceptionService``
    and the auditor's package)."""

    async def list(
        self, which: ExceptionFilter, *, limit: int, before: str | None
    ) -> list[CheckException]: ...


class ExceptionsRepo(ActiveExceptionsRepo, ExceptionListRepo, Protocol):
    """The ``CheckExceptionRepository`` methods ``ExceptionService`` calls."""

    async def create(self, exception: CheckException) -> None: ...
    async def get(self, *, organization_id: str, exception_id: str) -> CheckException | None: ...
    async def revoke(
        self, *, organization_id: str, exception_id: str, by: str, at: datetime
    ) -> CheckException | None: ...
    async def count(self, which: ExceptionFilter) -> int: ...


class ActiveExceptions:
    """The engine's exception filter: the exceptions in force at the evaluation's ``now``.

    Apart from ``ExceptionService`` because the engine is built before the services whose
    changes re-evaluate it (``ExceptionService`` reports its changes to the reactions)."""

    def __init__(self, repo: ActiveExceptionsRepo) -> None:
        self._repo = repo

    async def excepted(self, organization_id: str, now: datetime) -> frozenset[tuple[str, str]]:
        """The ``(check_id, resource_id)`` pairs excepted at ``now`` (``ExceptionFilter``)."""
        active = await self._repo.active(organization_id=organization_id, now=now)
        return frozenset((e.check_id, e.resource_id) for e in active)


@dataclass(eq=False, repr=False)
class ExceptionService:
    """Exceptions of the caller's organization (``excepted``: as ``ActiveExceptions``).

    ``on_action`` is told every exception created or revoked (who, why, until when):
    the composition root seals them into the check's evidence chain.
    """

    repo: ExceptionsRepo
    _: KW_ONLY
    check_ids: Callable[[], Collection[str]]
    failing: FailingItems | None = None
    on_exceptions_changed: OnChange = ignore_change
    on_action: OnAction = ignore_action
    clock: Clock = utcnow_ms
    _active: ActiveExceptions = field(init=False)

    def __post_init__(self) -> None:
        self._active = ActiveExceptions(self.repo)

    async def create(
        self,
        principal: Principal,
        *,
        check_id: str,
        resource_id: str,
        reason: str,
        expires_at: datetime,
    ) -> CheckException:
        """Accept one failing item until ``expires_at`` (ADMIN; at most 365 days ahead)."""
        require_role(principal, Role.ADMIN)
        now, expires_at = self.clock(), utc_ms(expires_at)
        check_id, resource_id, reason = check_id.strip(), resource_id.strip(), reason.strip()
        self._validate(check_id, resource_id, reason, expires_at, now)
        org = principal.organization_id
        for existing in await self.repo.active(organization_id=org, now=now, check_id=check_id):
            if existing.resource_id == resource_id:
                raise Conflict(
                    f"{resource_id} is already excepted until "
                    f"{existing.expires_at:%Y-%m-%d %H:%M} UTC (exception {existing.id}): "
                    "revoke it first to change it",
                    field=["input", "resourceId"],
                    code="ALREADY_EXCEPTED",
                )
        await self._ensure_failing(org, check_id, resource_id)
        created = CheckException(
            id=exception_id(now),
            organization_id=org,
            check_id=check_id,
            resource_id=resource_id,
            reason=reason,
            expires_at=expires_at,
            created_at=now,
            created_by=principal.actor_id,
        )
        await self.repo.create(created)
        await self._record(principal, "exception-created", created, now)
        await self.on_exceptions_changed(org)
        return created

    async def _record(
        self, principal: Principal, kind: str, exception: CheckException, at: datetime
    ) -> None:
        details = {
            "exceptionId": exception.id,
            "resourceId": exception.resource_id,
            "reason": exception.reason,
            "expiresAt": exception.expires_at,
        }
        await self.on_action(
            Action(
                organization_id=principal.organization_id,
                check_id=exception.check_id,
                kind=kind,
                actor=principal.describe(),
                at=at,
                details=details,
                subjects=(exception.resource_id,),
            )
        )

    async def _ensure_failing(self, org: str, check_id: str, resource_id: str) -> None:
        """An exception accepts one *failing* item: a typo must not be accepted silently."""
        if self.failing is None:
            return
        if resource_id not in await self.failing(org, check_id):
            raise ValidationFailed(
                f"{resource_id!r} is not a failing item of {check_id} in its latest result; "
                "an exception accepts one failing item (see the check's failingItems)",
                field=["input", "resourceId"],
                code="NOT_FAILING",
            )

    async def revoke(self, principal: Principal, exception_id: str) -> CheckException:
        """End an exception now (ADMIN); the item fails again at once if it still fails."""
        require_role(principal, Role.ADMIN)
        org, now = principal.organization_id, self.clock()
        revoked = await self.repo.revoke(
            organization_id=org, exception_id=exception_id, by=principal.actor_id, at=now
        )
        if revoked is None:
            existing = await self.repo.get(organization_id=org, exception_id=exception_id)
            if existing is None:
                raise NotFound(f"exception {exception_id} not found", field=["id"])
            raise Conflict(f"exception {exception_id} is already revoked", field=["id"])
        await self._record(principal, "exception-revoked", revoked, revoked.revoked_at or now)
        await self.on_exceptions_changed(org)
        return revoked

    async def page(
        self,
        principal: Principal,
        *,
        check_id: str | None,
        include_inactive: bool,
        first: int | None,
        after: str | None,
    ) -> Slice[CheckException]:
        """Exceptions newest first, only active ones unless ``include_inactive``."""
        limit, before = page_size(first), decode_cursor(after)
        active_at = None if include_inactive else self.clock()
        which = ExceptionFilter(principal.organization_id, check_id, active_at)
        rows = await self.repo.list(which, limit=limit + 1, before=before)
        total = await self.repo.count(which)
        return make_slice(rows, limit=limit, total=total, key=lambda e: e.id)

    async def of_check(self, principal: Principal, check_id: str) -> list[CheckException]:
        """Every exception of one check (any status), newest first (every role)."""
        which = ExceptionFilter(principal.organization_id, check_id)
        return await self.repo.list(which, limit=MAX_LISTED, before=None)

    def now(self) -> datetime:
        """The service clock (to show an exception's status)."""
        return self.clock()

    async def excepted(self, organization_id: str, now: datetime) -> frozenset[tuple[str, str]]:
        """The ``(check_id, resource_id)`` pairs excepted at ``now`` (``ExceptionFilter``)."""
        return await self._active.excepted(organization_id, now)

    def _validate(
        self, check_id: str, resource_id: str, reason: str, expires_at: datetime, now: datetime
    ) -> None:
        if check_id not in self.check_ids():
            raise NotFound(f"check {check_id} not found", field=["input", "checkId"])
        if not resource_id or len(resource_id) > MAX_RESOURCE_ID:
            raise ValidationFailed(
                f"resourceId must be 1-{MAX_RESOURCE_ID} characters", field=["input", "resourceId"]
            )
        if not reason or len(reason) > MAX_REASON:
            raise ValidationFailed(
                f"a reason is required (at most {MAX_REASON} characters)",
                field=["input", "reason"],
            )
        if expires_at <= now:
            raise ValidationFailed("expiresAt must be in the future", field=["input", "expiresAt"])
        if expires_at - now > MAX_DURATION:
            raise ValidationFailed(
                "expiresAt must be at most 365 days ahead", field=["input", "expiresAt"]
            )
